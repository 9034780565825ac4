"""Commands that only read the store start without SciPy or GPAW.

Each command runs in a fresh Python process; at exit it prints which heavy
packages were imported. Importing them costs about a second per command.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest
from ase.build import bulk

from asr.core import use_store
from asr.recipes.structureinfo import main as structureinfo
from asr.store import init_store

HEAVY = ("scipy", "gpaw", "matplotlib", "phonopy")

PROBE = f"""
import atexit, os, sys
def report():
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
    with open(os.environ["ASR_PROBE"], "w") as f:
        f.write(repr(heavy))
atexit.register(report)
sys.argv = ["asr", *sys.argv[1:]]
from asr.cli.main import main
main()
"""


@pytest.fixture(scope="module")
def store_with_records(tmp_path_factory):
    root = tmp_path_factory.mktemp("startup")
    store = init_store(root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with use_store(store):
            a = structureinfo(atoms=bulk("Si"))
            b = structureinfo(atoms=bulk("Si"), symprec=0.1)
    finally:
        os.chdir(cwd)
    return root, a.uid, b.uid


def heavy_modules(root, tmp_path, *args: str) -> list[str]:
    probe = tmp_path / "probe.txt"
    env = {**os.environ, "ASR_PROBE": str(probe), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(probe.read_text())


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["list"],
        ["show", "{a}"],
        ["show", "name=asr.structureinfo", "symprec=0.1"],
        ["log", "{a}"],
        ["diff", "{a}", "{b}"],
        ["cache", "ls"],
        ["cache", "ls", "--format", "json"],
    ],
    ids=json.dumps,
)
def test_reading_commands_start_light(store_with_records, tmp_path, command):
    root, a, b = store_with_records
    args = [word.format(a=a, b=b) for word in command]
    assert heavy_modules(root, tmp_path, *args) == []
