"""A damaged file costs one Record, never the whole store, and no traceback.

A single lookup of a damaged ref is one red line (`Error: ...`) naming the
file; a listing (`asr cache ls`, `asr cache reindex`) leaves the damaged
Record out with one warning line naming it; `asr fsck` reports it, exit 1.
"""

from __future__ import annotations

import os

import pytest
from ase.build import bulk
from click.testing import CliRunner

from asr.cli.main import cli
from asr.core import use_store
from asr.recipes.structureinfo import main as structureinfo
from asr.store import DiskStore, init_store
from asr.store.pack import gc

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}


def asr(*args: str):
    return CliRunner(env=TERMINAL).invoke(cli, list(args))


@pytest.fixture
def three(tmp_path):
    """Three Records; the first has a second revision, so a loose ref."""
    store = init_store(tmp_path)
    with use_store(store):
        for symprec in (0.1, 0.01, 0.001):
            structureinfo(atoms=bulk("Si"), symprec=symprec)
    (uid, oid), *_ = sorted(store.iter_refs())
    head = store.get(oid)
    store.commit(head.payload, uid=uid, parent=oid, index=head.index)
    store.close()
    assert store._ref_path(uid).is_file()
    return DiskStore(store.root), uid


def only_line(text: str, start: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), text
    return lines[0]


@pytest.mark.parametrize(
    "text", [b"", b"zz" + b"0" * 30 + b"\n", b"\xff\xfe" + b"0" * 30 + b"\n"]
)
def test_a_damaged_loose_ref(three, text):
    store, uid = three
    path = store._ref_path(uid)
    path.write_bytes(text)

    shown = asr("show", uid[:8])
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    line = only_line(shown.stderr, "Error: damaged ref ")
    assert str(path) in line and "run asr fsck" in line

    listed = asr("cache", "ls", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count('"uid"') == 2  # the two others
    line = only_line(listed.stderr, "Warning: damaged ref ")
    assert str(path) in line

    reindexed = asr("cache", "reindex")
    assert reindexed.exit_code == 0, reindexed.output
    assert "Reindexed 2 records" in reindexed.stdout
    assert str(path) in only_line(reindexed.stderr, "Warning: damaged ref ")

    checked = asr("fsck")
    assert checked.exit_code == 1
    assert f"damaged ref {path}" in checked.output


def test_an_undecodable_record_object(three):
    store, uid = three
    gc(store)  # into a pack, where a damaged object is read and fails its hash
    store = DiskStore(store.root)
    path, offset, length = store.locate(store.get_ref(uid))
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x20
    path.write_bytes(bytes(data))

    shown = asr("show", uid)
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert "corrupt object" in only_line(shown.stderr, "Error: ")

    listed = asr("cache", "ls", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count('"uid"') == 2
    line = only_line(listed.stderr, f"Warning: record {uid} left out: corrupt")
    assert line.endswith("run asr fsck")

    reindexed = asr("cache", "reindex")
    assert reindexed.exit_code == 0, reindexed.output
    assert "Reindexed 2 records" in reindexed.stdout
    only_line(reindexed.stderr, f"Warning: record {uid} left out")

    checked = asr("fsck")
    assert checked.exit_code == 1 and "corrupt object" in checked.output


def test_a_pack_without_its_table_from_a_killed_writer_is_harmless(tmp_path):
    """A writer killed between a pack and its table (the commit point) leaves
    a pack nothing names: a note, not damage; repair indexes it."""
    from asr.store.fsck import fsck
    from asr.store.objects import encode_object
    from asr.store.pack import write_pack

    store = init_store(tmp_path)
    store.commit({"v": 1})
    items = [encode_object("blob", {}, f"orphan {i}".encode()) for i in range(3)]
    table = write_pack(store, items)
    table.unlink()  # as if killed before the table was written
    report = fsck(DiskStore(store.root))
    assert report.ok, report.errors
    assert [p.suffix for p in report.tableless_packs] == [".pack"]
    result = CliRunner().invoke(cli, ["fsck"])
    assert result.exit_code == 0 and "1 packs without a table" in result.output
    repaired = fsck(DiskStore(store.root), repair=True)
    assert repaired.ok and fsck(DiskStore(store.root)).tableless_packs == []


def bulk_import(tmp_path, count: int = 3):
    """A store whose `count` Records came in one bulk import (one refs table)."""
    store = init_store(tmp_path)
    with store.bulk() as writer:
        uids = [writer.commit({"n": i}).uid for i in range(count)]
    (table,) = (store.refs_dir / "packed").glob("*.table")
    store.close()
    return uids, table


def test_an_import_killed_before_its_refs_table_is_a_note(tmp_path, monkeypatch):
    """Refs are an import's commit point: objects without them are harmless."""
    _uids, table = bulk_import(tmp_path)
    table.unlink()  # as if killed before the table (and so its mark) was written
    table.with_suffix(".committed").unlink()
    monkeypatch.chdir(tmp_path)
    checked = asr("fsck")
    assert checked.exit_code == 0, checked.output
    assert "3 records without a ref" in checked.output


def test_a_lost_committed_refs_table_is_damage(tmp_path, monkeypatch):
    """The table was committed (its mark says so): losing it is an error
    naming it, and --repair re-attaches every Record."""
    uids, table = bulk_import(tmp_path)
    table.unlink()
    monkeypatch.chdir(tmp_path)
    checked = asr("fsck")
    assert checked.exit_code == 1
    assert f"packed-refs table {table} is missing" in checked.output.replace("\n", "")
    repaired = asr("fsck", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "re-attached 3 records" in repaired.output
    store = DiskStore(tmp_path / ".asr")
    assert sorted(store.head(uid).payload["n"] for uid in uids) == [0, 1, 2]
    assert asr("fsck").exit_code == 0


def test_gc_leaves_one_mark_per_refs_table(tmp_path):
    """A merge removes the old tables with their marks: no mark is orphaned."""
    bulk_import(tmp_path / "a")
    store = DiskStore(tmp_path / "a" / ".asr")
    with store.bulk() as writer:
        writer.commit({"n": 9})
    gc(store, background=False)
    folder = store.refs_dir / "packed"
    tables_ = sorted(p.stem for p in folder.glob("*.table"))
    marks = sorted(p.stem for p in folder.glob("*.committed"))
    assert len(tables_) == 1 and marks == tables_
