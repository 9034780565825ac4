"""What the command-line tests share."""

from __future__ import annotations

import pytest
from ase.build import bulk

from asr.core import use_store
from asr.store import init_store


@pytest.fixture
def project(tmp_path):
    """A store in the test's folder, bulk Si in structure.json, and in use."""
    store = init_store(tmp_path)
    bulk("Si").write("structure.json")
    with use_store(store):
        yield store
