"""`gc` and writers in between its steps (made to happen at the worst moment)."""

from __future__ import annotations

import os

import pytest

from asr.store import DiskStore, IndexTerms, digest, init_store, tables
from asr.store.fsck import fsck
from asr.store.pack import gc


def terms(exact: str, floats) -> IndexTerms:
    return IndexTerms(digest(exact.encode()), digest(b"shape"), floats)


def test_index_entry_rewritten_while_gc_packs_it(tmp_path, monkeypatch):
    """A new revision's floats, written after gc read the old ones, stay."""
    store = init_store(tmp_path)
    writer = DiskStore(store.root)
    r1 = writer.commit(1, index=terms("a", [1.0]))
    revisions = []
    save = tables.save

    def save_then_commit(table, folder, **kwargs):
        path = save(table, folder, **kwargs)
        if table.type == "index" and not revisions:  # gc read the entries
            revisions.append(
                writer.commit(2, uid=r1.uid, parent=r1.oid, index=terms("b", [2.0]))
            )
        return path

    monkeypatch.setattr(tables, "save", save_then_commit)
    gc(store)
    monkeypatch.undo()
    (r2,) = revisions
    for reader in (DiskStore(store.root), store):
        found = reader.find_similar(digest(b"shape"), [2.0])
        assert [r.oid for r in found] == [r2.oid]
    gc(store)
    found = DiskStore(store.root).find_similar(digest(b"shape"), [2.0])
    assert [r.oid for r in found] == [r2.oid]
    assert fsck(store).ok


def test_gc_leaves_corrupt_loose_objects_alone(tmp_path):
    store = init_store(tmp_path)
    good = store.put_blob(b"good")
    bad = store.put_blob(b"bad")
    path = store.loose_path(bad)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"bad", b"BAD"))
    report = gc(store)
    assert report.skipped_corrupt == 1
    assert path.exists()  # still there for fsck to report
    assert not store.loose_path(good).exists()
    assert DiskStore(store.root).get_blob(good) == b"good"
    assert not fsck(store).ok


@pytest.mark.parametrize("repack", [False, True])
def test_gc_twice_and_repack(tmp_path, repack):
    store = init_store(tmp_path)
    first = [store.commit(i, index=terms(f"{i}", [i])) for i in range(3)]
    gc(store)
    second = [store.commit(i, index=terms(f"{i}", [i])) for i in range(3, 5)]
    report = gc(store, repack=repack)
    assert report.packs_merged == (1 if repack else 0)
    fresh = DiskStore(store.root)
    assert len(list(fresh.pack_dir.glob("*.table"))) == (1 if repack else 2)
    assert len(list((fresh.index_dir / "packed").glob("*.table"))) == 1
    for i, record in enumerate(first + second):
        assert fresh.head(record.uid).payload == i
        assert [r.uid for r in fresh.find(terms(f"{i}", [i]).exact)] == [record.uid]
    assert fsck(fresh).ok


def test_reader_of_packs_that_gc_merged_away(tmp_path):
    """Lookups search the packs a reader loaded first, without listing the
    folder; a pack merged away since is found again in the new one."""
    store = init_store(tmp_path)
    first = [store.commit(i) for i in range(3)]
    gc(store)
    second = [store.commit(i) for i in range(3, 5)]
    gc(store)
    reader = DiskStore(store.root)
    assert reader.has(first[0].oid)  # loads both pack tables, opens no pack
    gc(store, repack=True)
    for i, record in enumerate(first + second):
        assert reader.has(record.oid)
        assert reader.get(record.oid).payload == i


def test_packed_loose_copies_go_to_a_trash_removed_later(tmp_path, monkeypatch):
    """gc moves packed loose files aside; a trash left by a crash is harmless
    and removed by the next gc."""
    from asr.store import trash

    store = init_store(tmp_path)
    blobs = [store.put_blob(f"blob {i}".encode()) for i in range(5)]
    monkeypatch.setattr(trash, "empty", lambda paths, wait=False: None)  # "crash"
    gc(store)
    monkeypatch.undo()
    (left,) = trash.folders(store.root)
    assert len(os.listdir(left)) == 5
    assert list(store.iter_loose_files()) == []
    fresh = DiskStore(store.root)
    assert [fresh.get_blob(b) for b in blobs] == [
        f"blob {i}".encode() for i in range(5)
    ]
    report = fsck(fresh)
    assert report.ok and report.objects == 5 and report.tmp_files == []
    gc(fresh, background=False)
    assert trash.folders(store.root) == []
    assert DiskStore(store.root).get_blob(blobs[0]) == b"blob 0"


def test_gc_in_the_background_empties_the_trash(tmp_path):
    import time

    from asr.store import trash

    store = init_store(tmp_path)
    store.put_blob(b"loose")
    gc(store)
    for _ in range(200):  # a detached process removes it
        if not trash.folders(store.root):
            break
        time.sleep(0.05)
    assert trash.folders(store.root) == []


TAKE_LOCK = """
import os, sys
from asr.store import DiskStore
DiskStore(sys.argv[1]).lock(sys.argv[2]).acquire()
print("held", flush=True)
if sys.argv[3] == "killed":
    os._exit(9)  # dies holding it
sys.stdin.read()  # holds it until told
"""


def test_gc_removes_the_call_locks_of_processes_gone(tmp_path):
    """Lock files of killed processes (reaped, or zombies) go; a held one stays."""
    import subprocess
    import sys

    store = init_store(tmp_path)

    def take(name, how):
        args = [sys.executable, "-c", TAKE_LOCK, str(store.root), name, how]
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    for n in range(3):  # killed and reaped
        process = take(f"dead {n}", "killed")
        assert process.wait() == 9
    zombie = take("zombie", "killed")
    assert zombie.stdout.readline() == b"held\n"
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped
    alive = take("alive", "holds")
    assert alive.stdout.readline() == b"held\n"
    mine = store.lock("mine")
    mine.acquire()
    locks = store.root / "locks"
    assert len(list(locks.glob("*.lock"))) == 6
    try:
        assert gc(store, background=False).removed_locks == 4
        assert sorted(locks.glob("*.lock")) == sorted(
            [store.lock("alive").path, mine.path]
        )
    finally:
        mine.release()
        alive.communicate(b"")
        zombie.wait()
