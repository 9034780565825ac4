"""Refs moved in a batch: hard links to one head file, read through a table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from asr.store import StoreError, Uid, digest, init_store, pack, refbatch
from asr.store.files import HOST
from asr.store.fsck import fsck
from asr.store.objects import IndexTerms, record_header
from asr.store.pack import gc, tmp_files


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


# -- gc packs loose refs and removes the batch tables they named -------------


@pytest.fixture
def no_idle_wait(monkeypatch):
    """Batch tables are idle at once (in use, gc waits ten minutes)."""
    monkeypatch.setattr(refbatch, "IDLE_SECONDS", 0.0)


def loose_refs(store) -> list:
    return [p for p in store.refs_dir.glob("??/*") if not p.name.endswith(".lock")]


def test_gc_packs_moved_refs_and_removes_their_batch_tables(tmp_path, no_idle_wait):
    store = init_store(tmp_path)
    moves = migrated(store, 30)
    store.move_refs(moves[:10])
    store.move_refs(moves[10:])
    assert len(list((store.refs_dir / "batch").glob("*.table"))) == 2
    report = gc(store, background=False)
    assert report.packed_refs == 30 and report.removed_batches == 2
    assert loose_refs(store) == []
    assert list((store.refs_dir / "batch").iterdir()) == []
    for reader in (store, type(store)(store.root)):
        assert dict(reader.iter_refs()) == {uid: head for uid, head, _old in moves}
        assert all(reader.get_ref(uid) == head for uid, head, _old in moves)
    assert fsck(store).ok
    # Revisions after the packing move loose refs again, which win.
    uid, head, _old = moves[0]
    newer = store.commit({"v": "newer"}, uid=uid, parent=head)
    assert store.get_ref(uid) == newer.oid
    gc(store, background=False)
    assert type(store)(store.root).get_ref(uid) == newer.oid


def test_gc_at_any_step_of_a_batch_keeps_its_table(tmp_path, no_idle_wait, monkeypatch):
    """gc's safety rests on order, not on the ten-minute grace: a gc run
    between any two steps of a batch (before its head file, before each
    ref's lock) leaves the batch readable."""
    store = init_store(tmp_path)
    moves = migrated(store, 6)
    steps = []

    def gc_first(method):
        def wrapped(self, *args):
            if "/gc.head" not in str(self.path):  # gc's own holder
                steps.append(gc(store, background=False).removed_batches)
            return method(self, *args)

        return wrapped

    monkeypatch.setattr(
        refbatch.LockHolder, "__enter__", gc_first(refbatch.LockHolder.__enter__)
    )
    monkeypatch.setattr(refbatch.LockHolder, "lock", gc_first(refbatch.LockHolder.lock))
    assert store.move_refs(moves) == [True] * 6
    assert len(steps) == 7 and steps == [0] * 7
    for reader in (store, type(store)(store.root)):
        assert all(reader.get_ref(uid) == head for uid, head, _old in moves)
    assert fsck(store).ok


def test_gc_leaves_young_and_moving_batches_alone(tmp_path):
    store = init_store(tmp_path)
    moves = migrated(store, 4)
    store.move_refs(moves[:2])
    gc(store, background=False)  # packs the refs, but the table is young
    assert len(list((store.refs_dir / "batch").glob("*.table"))) == 1
    (name,) = refbatch.idle_tables(store, grace=-1.0)
    holder = store.refs_dir / "batch" / f"{name}.head.tmp-elsewhere"
    holder.write_text("other-host 1 0.0\n")  # a batch of that name moving
    assert refbatch.idle_tables(store, grace=-1.0) == []


def test_refs_a_kept_batch_moved_are_listed_without_reading_heads(
    tmp_path, monkeypatch
):
    """After `gc` packed a migration's refs, its batch tables stay ten
    minutes. Listing the refs meanwhile reads no head object where the
    batch moved the ref to the head it has (it read every one: a listing
    of 10^5 refs took 15 s instead of 0.1 s); one whose batch moved it
    further (its loose file lost before gc) is still followed."""
    store = init_store(tmp_path)
    moves = migrated(store, 6)
    store.move_refs(moves[:4])
    lost, head, old = moves[4]
    store.move_refs([moves[4]])
    store._ref_path(lost).unlink()  # before gc: the packed ref is the old one
    gc(store, background=False)
    assert len(list((store.refs_dir / "batch").glob("*.table"))) == 2  # kept
    read = []
    real = type(store)._parent_in
    monkeypatch.setattr(
        type(store), "_parent_in", lambda s, u, o: read.append(u) or real(s, u, o)
    )
    fresh = type(store)(store.root)
    with pytest.warns(UserWarning, match=f"the ref of {lost} was lost"):
        listed = dict(fresh.iter_refs())
    assert set(read) == {lost}
    assert listed[lost] == head and listed[moves[5][0]] == moves[5][2]
    assert all(listed[uid] == new for uid, new, _old in moves[:4])


def test_a_ref_that_moves_or_is_locked_during_gc_stays_loose(tmp_path):
    store = init_store(tmp_path)
    moves = migrated(store, 3)
    store.move_refs(moves)
    loose = pack._read_loose_refs(store)
    (moved, head, _old), (locked, _head, _old2) = moves[0], moves[1]
    newer = store.commit({"v": "newer"}, uid=moved, parent=head)
    lock = store._ref_path(locked).with_suffix(".lock")
    lock.write_text(f"{HOST} {os.getpid()} 0.0\n")
    pack._merge_packed_refs(store, {}, loose)
    assert pack._remove_packed_loose_refs(store, loose) == 1
    assert len(loose_refs(store)) == 2
    lock.unlink()
    assert store.get_ref(moved) == newer.oid  # the packed ref is older
    assert dict(store.iter_refs())[moved] == newer.oid
    assert fsck(store).ok


def test_a_reader_that_read_an_old_log_sees_the_packed_ref(tmp_path):
    store = init_store(tmp_path)
    first = store.commit({"v": 1})  # its ref is in this process's log
    reader = type(store)(store.root)
    assert reader.get_ref(first.uid) == first.oid  # reads (and keeps) the log
    second = store.commit({"v": 2}, uid=first.uid, parent=first.oid)  # loose
    gc(store, background=False)  # folds the log and packs the loose ref
    assert loose_refs(store) == []
    assert reader.get_ref(first.uid) == second.oid
    assert dict(reader.iter_refs())[first.uid] == second.oid


def test_a_ref_read_before_its_batch_table_went_is_read_again(tmp_path, no_idle_wait):
    store = init_store(tmp_path)
    ((uid, head, _old),) = migrated(store, 1)
    store.move_refs([(uid, head, _old)])
    text = store._ref_path(uid).read_bytes()
    gc(store, background=False)
    assert refbatch.batch_ref(type(store)(store.root), uid, text) == head


def test_tombstones_stay_loose(tmp_path):
    store = init_store(tmp_path)
    with store.bulk() as batch:
        kept, deleted = batch.commit({"v": 1}), batch.commit({"v": 2})
    store.delete_ref(deleted.uid)
    gc(store, background=False)
    assert store.get_ref(deleted.uid) is None
    assert store.get_ref(kept.uid) == kept.oid
    assert Uid(deleted.uid) not in dict(type(store)(store.root).iter_refs())


def test_iter_refs_lists_each_ref_once_with_the_head_get_ref_reads(tmp_path):
    """Refs in overlapping packed tables, in a log, loose and deleted."""
    from asr.store import tables

    store = init_store(tmp_path)
    with store.bulk() as batch:
        records = [batch.commit({"v": i}) for i in range(6)]
    blobs = [store.put_blob(bytes([i])) for i in range(5)]
    pack.write_packed_refs(store, {r.uid: blobs[0] for r in records[:3]})
    twice = bytes.fromhex(records[5].uid)  # twice in one table: its first row
    table = tables.build(
        "refs",
        [twice, twice],
        {"oid": tables.hex16_column([blobs[1], blobs[2]])},
    )
    tables.save(table, store.refs_dir / "packed")
    logged = store.commit({"v": "logged"})  # its ref is in this process's log
    store.commit({"v": "loose"}, uid=records[3].uid, parent=records[3].oid)
    store.delete_ref(records[4].uid)
    reader = type(store)(store.root)
    refs = list(reader.iter_refs())
    assert len(refs) == len(dict(refs)) == 6
    uids = [r.uid for r in records] + [logged.uid]
    expected = {uid: reader.get_ref(uid) for uid in uids}
    assert dict(refs) == {uid: oid for uid, oid in expected.items() if oid}
    assert dict(refs)[records[5].uid] != blobs[2]  # never the second row


def test_a_lost_loose_ref_of_a_batch_is_found_not_read_stale(tmp_path):
    """Its batch table still says where the batch moved it: a read returns
    that revision (with a warning), fsck names the file, repair rewrites it."""
    store = init_store(tmp_path)
    moves = migrated(store, 3)
    assert store.move_refs(moves) == [True] * 3
    uid, head, _old = moves[1]
    store._ref_path(uid).unlink()
    fresh = type(store)(store.root)
    with pytest.warns(UserWarning, match=f"the ref of {uid} was lost"):
        assert fresh.get_ref(uid) == head
    with pytest.warns(UserWarning):
        assert dict(fresh.iter_refs())[uid] == head
    report = fsck(fresh)
    assert not report.ok and any(str(store._ref_path(uid)) in e for e in report.errors)
    with pytest.warns(UserWarning):  # the ref is read once more, to move it
        fsck(type(store)(store.root), repair=True)
    assert store._ref_path(uid).is_file()
    assert fsck(type(store)(store.root)).ok


KILL_SECOND_MOVE = """
import os, sys
from asr.store import DiskStore, refbatch
from asr.store.ids import ObjectId, Uid
moves = [tuple(line.split()) for line in sys.stdin.read().splitlines()]
done = []
def move_one(store, holder, uid, expected, real=refbatch._move_one):
    if done:
        os._exit(9)  # killed after the first ref moved
    done.append(uid)
    return real(store, holder, uid, expected)
refbatch._move_one = move_one
moves = [(Uid(u), ObjectId(o), ObjectId(e)) for u, o, e in moves]
DiskStore(sys.argv[1]).move_refs(moves)
"""


@pytest.mark.parametrize("how", ["killed", "failed", "busy"])
def test_refs_a_batch_did_not_move_are_not_taken_for_lost(tmp_path, how, monkeypatch):
    """A batch that stopped partway (killed, an exception, a busy lock)
    leaves rows that never moved: they stay unmoved, and fsck --repair
    does not move them."""
    store = init_store(tmp_path)
    moves = migrated(store, 3)
    if how == "killed":
        lines = "".join(f"{u} {o} {e}\n" for u, o, e in moves)
        code = subprocess.run(
            [sys.executable, "-c", KILL_SECOND_MOVE, str(store.root)],
            input=lines,
            text=True,
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        ).returncode
        assert code == 9
        fsck(store, repair=True)  # the dead writer's head file: marked stopped
    elif how == "failed":
        real = refbatch._move_one
        calls = []

        def move_one(*args):
            if calls:
                raise OSError("a disk error")
            calls.append(args)
            return real(*args)

        monkeypatch.setattr(refbatch, "_move_one", move_one)
        with pytest.raises(OSError):
            store.move_refs(moves)
        monkeypatch.undo()
    else:
        lock = store._ref_path(moves[1][0]).with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(f"{HOST} {os.getpid()} 0.0\n")  # held by a live process
        assert refbatch.move_refs(store, moves)[1] is None  # no fallback here
        lock.unlink()
    assert list((store.refs_dir / "batch").glob("*.stopped"))
    fresh = type(store)(store.root)
    unmoved, _new, old = moves[1]  # in every case
    assert fresh.get_ref(unmoved) == old
    assert fsck(fresh).ok
    fsck(type(store)(store.root), repair=True)
    assert type(store)(store.root).get_ref(unmoved) == old
