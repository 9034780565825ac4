import pytest

from asr.core import use_store
from asr.store import init_store


@pytest.fixture
def store(tmp_path):
    """A fresh disk store, used by every instruction called in the test."""
    disk = init_store(tmp_path)
    with use_store(disk):
        yield disk
