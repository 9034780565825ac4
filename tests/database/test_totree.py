"""`totree`: the database back into folders and one store, ids unchanged."""

from __future__ import annotations

import os

import ase.db
from ase.build import bulk
from ase.io import read
from click.testing import CliRunner

from asr.cli.main import cli
from asr.core.cache import all_records
from asr.database import fromtree, totree
from asr.store import open_store
from asr.store.fsck import fsck

TERMINAL = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None}


def asr(*args: str) -> str:
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_tree_to_db_to_tree_to_db_is_identical(tree, tmp_path, snapshot):
    first = tmp_path / "first.db"
    fromtree(tree.folders, first)
    report = totree(first, tmp_path / "rebuilt")
    assert (report.folders, report.skipped, report.conflicts) == (5, [], [])
    rebuilt = tmp_path / "rebuilt"
    folders = [rebuilt / name for name in tree.names()]
    assert all((f / "structure.json").is_file() for f in folders)
    second = tmp_path / "second.db"
    fromtree(folders, second)
    assert snapshot(first) == snapshot(second)
    assert list(snapshot(first)) == list(snapshot(second))  # same order

    store = open_store(rebuilt)
    check = fsck(store)
    assert check.errors == [] and check.unreachable == []
    original = {r.uid: r.oid for r in all_records(tree.store)}
    again = {r.uid: r.oid for r in all_records(store)}
    # every Record came back (the top folder's ones as dependencies), same ids
    assert again == original


def test_log_and_show_are_identical(tree, tmp_path, monkeypatch):
    fromtree(tree.folders, tmp_path / "project.db")
    totree(tmp_path / "project.db", tmp_path / "rebuilt")
    migrated = [
        r.uid for r in all_records(tree.store) if r.metadata.get("migrated") is not None
    ]
    assert len(migrated) == 5
    outputs = {}
    for top in (tree.top, tmp_path / "rebuilt"):
        monkeypatch.chdir(top)
        outputs[top] = [asr("log", uid) for uid in migrated]
        outputs[top] += [asr("show", uid[:10]) for uid in migrated]
        assert "No errors." in asr("fsck")
    first, second = outputs.values()
    assert first == second
    assert first[0].count("revision ") == 2


def test_rebuilt_store_answers_cache_lookups(tree, tmp_path):
    from asr.core import use_store
    from asr.recipes.structureinfo import main as structureinfo

    fromtree(tree.folders, tmp_path / "project.db")
    totree(tmp_path / "project.db", tmp_path / "rebuilt")
    store = open_store(tmp_path / "rebuilt")
    original = structureinfo.lookup(structureinfo.arguments(bulk("Cu", "fcc", a=3.6)))
    os.chdir(tmp_path / "rebuilt" / "materials" / "Cu")
    with use_store(store):
        hit = structureinfo(bulk("Cu", "fcc", a=3.6))
    assert (hit.uid, hit.oid) == (original.uid, original.oid)
    assert len(list(store.iter_refs())) == len(list(tree.store.iter_refs()))


def test_totree_twice_adds_nothing(tree, tmp_path):
    fromtree(tree.folders, tmp_path / "project.db")
    first = totree(tmp_path / "project.db", tmp_path / "rebuilt")
    again = totree(tmp_path / "project.db", tmp_path / "rebuilt")
    assert first.objects > 0 and again.objects == 0
    assert again.conflicts == [] and again.records == first.records
    assert fsck(open_store(tmp_path / "rebuilt")).errors == []


def test_totree_refuses_folders_outside_the_tree(tree, tmp_path):
    fromtree(tree.folders[:1], tmp_path / "project.db")
    db = ase.db.connect(tmp_path / "project.db")
    db.write(bulk("Cu"), folder="../escaped")
    db.write(bulk("Cu"), folder="/etc/escaped")
    db.write(bulk("Cu"))
    report = totree(tmp_path / "project.db", tmp_path / "rebuilt")
    assert report.folders == 1 and len(report.skipped) == 3
    assert not (tmp_path / "escaped").exists()


def test_changed_structure_is_kept_and_reported(tree, tmp_path):
    fromtree(tree.folders[:1], tmp_path / "project.db")
    totree(tmp_path / "project.db", tmp_path / "rebuilt")
    path = tmp_path / "rebuilt" / tree.names()[0] / "structure.json"
    bulk("Al").write(path)
    report = totree(tmp_path / "project.db", tmp_path / "rebuilt")
    assert [p.message for p in report.conflicts] == [
        "structure.json exists and differs: kept it"
    ]
    assert read(path).get_chemical_formula() == "Al"
