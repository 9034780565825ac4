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


_PROBE = """
import atexit, os, sys
def report():
    names = {names!r}
    found = sorted(m for m in sys.modules
                   if any(m == n or m.startswith(n + ".") for n in names))
    with open(os.environ["ASR_PROBE"], "w") as f:
        f.write(repr(found))
atexit.register(report)
sys.argv = ["asr", *sys.argv[1:]]
from asr.cli.main import main
main()
"""


@pytest.fixture
def imported(tmp_path):
    """Run `asr ARGS` in a fresh process in `cwd`; which of `names` (packages,
    with their submodules) it imported, and its standard output."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    def run(cwd, names, *args: str, stdin: bytes = b"") -> tuple[list[str], bytes]:
        probe = tmp_path / "probe.txt"
        env = {**os.environ, "ASR_PROBE": str(probe), "OMP_NUM_THREADS": "1"}
        repo = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([repo, env.get("PYTHONPATH", "")])
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(names=tuple(names)), *args],
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return ast.literal_eval(probe.read_text()), done.stdout

    return run
