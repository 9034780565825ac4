"""Refs moved in a batch: hard links to one head file, read through a table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from asr.store import StoreError, Uid, digest, init_store
from asr.store.files import HOST
from asr.store.fsck import fsck
from asr.store.objects import IndexTerms, record_header
from asr.store.pack import tmp_files


def migrated(store, count: int):
    """`count` records, and a new revision of each (written, not moved yet)."""
    moves = []
    with store.bulk() as batch:
        records = [batch.commit({"v": i}) for i in range(count)]
    for record in records:
        terms = IndexTerms(digest(record.uid.encode()), digest(b"s"), [1.0])
        header = record_header(record.uid, record.oid, terms)
        head = store.put_object("record", header, {"v": "new"})
        store.index_add(record.uid, terms)
        moves.append((record.uid, head, record.oid))
    return moves


def test_moved_refs_share_one_file_and_leave_nothing_behind(tmp_path):
    store = init_store(tmp_path)
    moves = migrated(store, 20)
    assert store.move_refs(moves) == [True] * 20
    paths = [store._ref_path(uid) for uid, _head, _old in moves]
    assert len({os.stat(p).st_ino for p in paths}) == 1
    assert os.stat(paths[0]).st_nlink == 20
    line = paths[0].read_text().split()
    assert line[:2] == [HOST, str(os.getpid())] and line[3] == "batch"
    assert not list(store.refs_dir.glob("*/*.lock"))
    assert tmp_files(store) == []
    assert dict(store.iter_refs()) == {uid: head for uid, head, _old in moves}
    assert fsck(store).ok


def test_lock_of_a_dead_writer_is_broken(tmp_path):
    store = init_store(tmp_path)
    moves = migrated(store, 3)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lock = store._ref_path(moves[1][0]).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(f"{HOST} {dead} 0.0 batch {'0' * 32}\n")
    assert store.move_refs(moves) == [True] * 3  # the busy one the usual way
    assert not lock.exists()
    assert store.get_ref(moves[1][0]) == moves[1][1]


def test_a_missing_batch_table_is_a_clear_error(tmp_path):
    store = init_store(tmp_path)
    moves = migrated(store, 2)
    store.move_refs(moves)
    for table in (store.refs_dir / "batch").glob("*.table"):
        table.unlink()
    fresh = type(store)(store.root)
    with pytest.raises(StoreError, match="missing"):
        fresh.get_ref(moves[0][0])
    report = fsck(fresh)  # reported, each ref, not raised
    assert not report.ok
    assert sum("missing" in e for e in report.errors) == 2


def test_a_uid_twice_moves_one_by_one(tmp_path):
    store = init_store(tmp_path)
    ((uid, head, old),) = migrated(store, 1)
    assert store.move_refs([(uid, head, old), (uid, old, head)]) == [True, True]
    assert store.get_ref(uid) == old
    assert Uid(uid) in dict(store.iter_refs())
