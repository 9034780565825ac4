"""Shared fixtures: every test runs in its own folder with its own HOME."""

import os

# One BLAS thread per process: tests run GPAW and many processes side by
# side on two cores, where threaded BLAS is several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil
import tempfile

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

_hypothesis_home = tempfile.mkdtemp(prefix="asr-tests-hypothesis-")


def pytest_configure(config):
    """Hypothesis keeps its caches in a temporary folder, not the repository."""
    set_hypothesis_home_dir(_hypothesis_home)


def pytest_unconfigure(config):
    shutil.rmtree(_hypothesis_home, ignore_errors=True)


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
