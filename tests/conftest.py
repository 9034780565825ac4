"""Shared fixtures: every test runs in its own folder with its own HOME."""

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path, tmp_path_factory, monkeypatch):
    """Run in a fresh working folder, with HOME pointing at an empty folder."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path):
    """A fresh disk store in the test's folder, used by every instruction call."""
    from asr.core import use_store
    from asr.store import init_store

    disk = init_store(tmp_path)
    with use_store(disk):
        yield disk
