"""Commands that only read the store start without SciPy or GPAW.

Each command runs in a fresh Python process; at exit it prints which heavy
packages were imported. Importing them costs about a second per command.
"""

from __future__ import annotations

import json
import os

import pytest
from ase.build import bulk

from asr.core import use_store
from asr.recipes.structureinfo import main as structureinfo
from asr.store import init_store

HEAVY = ("scipy", "gpaw", "matplotlib", "phonopy")


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
def test_reading_commands_start_light(store_with_records, imported, command):
    root, a, b = store_with_records
    args = [word.format(a=a, b=b) for word in command]
    assert imported(root, HEAVY, *args)[0] == []
