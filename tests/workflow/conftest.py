"""Fixtures for the workflow tests: a tree of materials, MyQueue, a scheduler.

Task processes import the test instructions (`wfsteps`) through PYTHONPATH.
MYQUEUE_TESTING (MyQueue's own switch) points MyQueue's home at the test's
HOME and keeps `mq` from forking its background daemon.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ase.build import bulk

HERE = Path(__file__).parent

MATERIALS = {
    "Cu": lambda: bulk("Cu", "fcc", a=3.6),
    "Al": lambda: bulk("Al", "fcc", a=4.05),
    "CuAu": lambda: bulk("CuAu", "rocksalt", a=5.2),
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A store in the test's folder, and tree/<name>/structure.json."""
    from asr.store import init_store

    init_store(tmp_path)
    for name, make in MATERIALS.items():
        folder = tmp_path / "tree" / name
        folder.mkdir(parents=True)
        make().write(folder / "structure.json")
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("MYQUEUE_TESTING", os.environ["HOME"])
    return tmp_path


@pytest.fixture
def mq(tree):
    """`mq config local` + `mq init` in the tree, and a local scheduler."""
    from wfhelpers import local_queue

    with local_queue(tree, cores=3) as queue:
        yield queue
