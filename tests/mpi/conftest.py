"""A folder with a store for each MPI test."""

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def folder(tmp_path):
    """A folder with a store, and the instructions the ranks import."""
    from asr.store import init_store

    init_store(tmp_path)
    shutil.copy(HERE / "script.py", tmp_path)
    return tmp_path
