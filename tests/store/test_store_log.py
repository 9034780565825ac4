"""Commit logs: frames, readers that follow them, gc taking them, damage."""

from __future__ import annotations

import os

import numpy as np
import pytest

from asr.store import DiskStore, IndexTerms, autogc, digest, hash_bytes, init_store
from asr.store.fsck import fsck
from asr.store.log import encode_frame, parse_frames
from asr.store.pack import gc


def terms(exact: str, floats=(1.0,)) -> IndexTerms:
    return IndexTerms(digest(exact.encode()), digest(b"shape"), floats)


def test_frame_round_trip():
    t = terms("a", [1.0, -2.5])
    frame = encode_frame(oid="ab" * 16, data=b"bytes", uid="cd" * 16, terms=t)
    frame += encode_frame(uid="ef" * 16, terms=terms("b"))
    parsed = parse_frames(frame[:-1])  # the second one is not all there yet
    assert not parsed.bad and len(parsed.frames) == 1
    first = parsed.frames[0]
    assert (first.oid, first.uid, first.terms, first.new_ref) == (
        "ab" * 16,
        "cd" * 16,
        t,
        False,
    )
    assert frame[first.data_offset : first.data_offset + first.data_length] == b"bytes"
    parsed = parse_frames(frame)
    assert [f.oid for f in parsed.frames] == ["ab" * 16, None]
    assert parsed.end == len(frame)


def test_a_flipped_header_byte_stops_the_parse():
    frame = bytearray(encode_frame(uid="cd" * 16, terms=terms("a")))
    frame[40] ^= 1
    parsed = parse_frames(bytes(frame) + encode_frame(uid="ef" * 16))
    assert parsed.bad and parsed.frames == [] and parsed.end == 0


def test_one_log_per_process_and_readers_follow_it(tmp_path):
    store = init_store(tmp_path)
    reader = DiskStore(store.root)
    assert reader.find(terms("a").exact) == []  # the view is warm now
    records = [store.commit(i, index=terms("a", [i])) for i in range(3)]
    assert len(store.log_paths()) == 1
    assert [r.oid for r in reader.find(terms("a").exact)] == sorted(
        (r.oid for r in records), key=lambda oid: reader.get(oid).uid
    )
    assert [r.uid for r in reader.find_similar(digest(b"shape"), [2.0])] == [
        records[2].uid
    ]
    assert reader.head(records[1].uid).payload == 1
    assert list(store.iter_loose_files()) == []  # no file per record


def test_similar_entries_committed_after_a_search_are_found(tmp_path):
    """The same-shape matrix is extended by new entries, never rebuilt."""
    store = init_store(tmp_path)
    shape = digest(b"shape")
    first = store.commit(0, index=terms("a", [1.0, 2.0]))
    assert [r.uid for r in store.find_similar(shape, [1.0, 2.0])] == [first.uid]
    store.commit(1, index=terms("b", [5.0]))  # same shape, other length
    later = [store.commit(i, index=terms(f"c{i}", [i, 2.0])) for i in (3, 4)]
    for record, x in zip(later, (3.0, 4.0), strict=True):
        assert [r.uid for r in store.find_similar(shape, [x, 2.0])] == [record.uid]
    assert [r.uid for r in store.find_similar(shape, [1.0, 2.0])] == [first.uid]
    assert len(store.find_similar(shape, [5.0])) == 1


def test_writer_writes_again_when_gc_took_its_log(tmp_path):
    store = init_store(tmp_path)
    first = store.commit("first", index=terms("a"))
    (log,) = store.log_paths()
    log.rename(log.with_suffix(".fold"))  # what gc does before reading a log
    second = store.commit("second", index=terms("b"))
    paths = store.log_paths()
    assert len(paths) == 2 and log.with_suffix(".fold") in paths
    reader = DiskStore(store.root)
    assert reader.head(first.uid).payload == "first"
    assert [r.oid for r in reader.find(terms("b").exact)] == [second.oid]
    gc(store)
    assert DiskStore(store.root).log_paths() == []
    third = store.commit("third")  # a new log again
    fresh = DiskStore(store.root)
    for record in (first, second, third):
        assert fresh.head(record.uid).oid == record.oid
    assert fsck(fresh).ok


def test_a_frame_written_into_a_log_being_folded_is_not_lost(tmp_path, monkeypatch):
    """gc renames the log while the writer appends: the writer notices."""
    store = init_store(tmp_path)
    store.commit("before")
    (log,) = store.log_paths()
    real_pwrite = os.pwrite

    def write_then_gc_renames(fd, data, offset):
        done = real_pwrite(fd, data, offset)
        if log.exists():
            log.rename(log.with_suffix(".fold"))
        return done

    monkeypatch.setattr(os, "pwrite", write_then_gc_renames)
    record = store.commit("during", index=terms("d"))
    monkeypatch.undo()
    os.remove(log.with_suffix(".fold"))  # as if gc read it before our frame
    fresh = DiskStore(store.root)
    assert fresh.head(record.uid).payload == "during"
    assert [r.oid for r in fresh.find(terms("d").exact)] == [record.oid]


def test_a_torn_last_frame_is_ignored_and_noted(tmp_path):
    store = init_store(tmp_path)
    kept = store.commit("kept", index=terms("a"))
    (log,) = store.log_paths()
    os.chmod(log, 0o644)
    data = b"x" * 100
    torn = encode_frame(oid=hash_bytes(data), data=data, uid="cd" * 16, new_ref=True)
    end = parse_frames(log.read_bytes()).end  # where the zeros start
    fd = os.open(log, os.O_WRONLY)
    os.pwrite(fd, torn[:-10], end)  # killed while writing its last bytes
    os.close(fd)
    fresh = DiskStore(store.root)
    assert dict(fresh.iter_refs()) == {kept.uid: kept.oid}
    report = fsck(fresh)
    assert report.ok, report.errors
    assert report.torn_logs == [log]
    gc(fresh)
    assert fresh.log_paths() == []
    assert DiskStore(store.root).head(kept.uid).payload == "kept"


def test_a_damaged_log_is_an_error_and_gc_leaves_it(tmp_path):
    store = init_store(tmp_path)
    first = store.commit("first", index=terms("a"))
    store.commit("second", index=terms("b"))
    (log,) = store.log_paths()
    os.chmod(log, 0o644)
    data = bytearray(log.read_bytes())
    data[20] ^= 1  # in the first frame's header
    log.write_bytes(bytes(data))
    fresh = DiskStore(store.root)
    report = fsck(fresh)
    assert not report.ok and "damaged frame" in report.errors[0]
    gc(fresh)
    assert len(fresh.log_paths()) == 1  # left for fsck to report
    assert fresh.get_ref(first.uid) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_its_own_log(tmp_path):
    store = init_store(tmp_path)
    parent = store.commit("parent")
    pid = os.fork()
    if pid == 0:  # the child: its commit must not go into the parent's log
        try:
            store.commit("child", index=terms("child"))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    store.commit("parent again")
    paths = store.log_paths()
    assert len(paths) == 2
    fresh = DiskStore(store.root)
    assert fresh.head(parent.uid).payload == "parent"
    (child,) = fresh.find(terms("child").exact)
    assert child.payload == "child"
    assert fsck(fresh).ok


def test_reindex_folds_logs_and_drops_stale_entries(tmp_path):
    store = init_store(tmp_path)
    r1 = store.commit(1, index=terms("a", [1.0]))
    r2 = store.commit(2, uid=r1.uid, parent=r1.oid, index=terms("b", [2.0]))
    assert store.reindex() == 1
    assert store.log_paths() == []
    assert store._index_exact(terms("a").exact) == set()
    assert [r.oid for r in store.find(terms("b").exact)] == [r2.oid]
    found = store.find_similar(digest(b"shape"), np.array([2.0]))
    assert [r.oid for r in found] == [r2.oid]


def test_reindex_keeps_entries_of_a_revision_whose_ref_has_not_moved(tmp_path):
    from asr.store.objects import encode_object, record_header

    store = init_store(tmp_path)
    r1 = store.commit(1, index=terms("a", [1.0]))
    new = terms("b", [2.0])
    oid, data = encode_object("record", record_header(r1.uid, r1.oid, new), 2)
    store._add_record(r1.uid, oid, data, new, new_ref=False)  # then killed...
    store.reindex()
    store.set_ref(r1.uid, oid, r1.oid, index=False)  # ...or just slow
    assert [r.oid for r in DiskStore(store.root).find(new.exact)] == [oid]


def test_logs_grow_from_64_kib(tmp_path):
    store = init_store(tmp_path)
    store.commit("small")
    (log,) = store.log_paths()
    assert log.stat().st_size == 1 << 16
    big = store.commit(b"x" * 200_000)  # a frame larger than the next step
    assert log.stat().st_size >= 200_000 and log.stat().st_size % (1 << 16) == 0
    assert DiskStore(store.root).head(big.uid).payload == b"x" * 200_000


def test_a_closed_log_is_sealed_read_once_and_folded(tmp_path):
    store = init_store(tmp_path)
    reader = DiskStore(store.root)
    first = store.commit("first", index=terms("a"))
    assert reader.head(first.uid).payload == "first"  # read while open
    store.close()
    (path,) = store.log_paths()
    assert path.suffix == ".sealed"
    assert reader.head(first.uid).payload == "first"  # the same file, sealed
    second = store.commit("second", index=terms("b"))  # a new log
    assert sorted(p.suffix for p in store.log_paths()) == [".log", ".sealed"]
    assert reader.find(terms("b").exact)[0].uid == second.uid
    gc(store, background=False)
    assert store.log_paths() == []
    assert {reader.head(r.uid).payload for r in (first, second)} == {"first", "second"}


def test_a_reader_of_many_logs_keeps_few_files_open(tmp_path):
    from asr.store.log import MAX_OPEN

    init_store(tmp_path)
    root = tmp_path / ".asr"
    records = []
    for i in range(MAX_OPEN + 36):  # one short-lived writer each, as batch jobs
        writer = DiskStore(root)
        records.append(writer.commit(i, index=terms(f"k{i}")))
        writer.close()
    open_before = len(os.listdir("/proc/self/fd"))
    reader = DiskStore(root)
    for i, record in enumerate(records):
        (found,) = reader.find(terms(f"k{i}").exact)
        assert found.uid == record.uid and reader.get(found.oid).payload == i
    assert len(os.listdir("/proc/self/fd")) - open_before <= MAX_OPEN + 2


def test_writers_start_a_gc_when_logs_pile_up(tmp_path):
    """Batch jobs that each commit and exit: past the limit, one of them
    starts `asr.store.autogc` in the background, which folds the logs."""
    import subprocess
    import sys
    import time

    init_store(tmp_path)
    root = tmp_path / ".asr"
    script = (
        "import sys\n"
        "from asr.store import DiskStore, IndexTerms, digest\n"
        "i = int(sys.argv[2])\n"
        "terms = IndexTerms(digest(b'k%d' % i), digest(b'shape'), [float(i)])\n"
        "print(DiskStore(sys.argv[1]).commit(i, index=terms).uid)\n"
    )
    env = {**os.environ, "ASR_AUTO_GC_LOGS": "4"}
    uids = [
        subprocess.run(
            [sys.executable, "-c", script, str(root), str(i)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for i in range(8)
    ]
    store = DiskStore(root)
    for _ in range(600):
        if (
            len(store.log_paths()) <= 4
            and not (root / "locks" / "autogc.lock").exists()
        ):
            break
        time.sleep(0.1)
    assert len(store.log_paths()) <= 4  # folded (later writers may add some)
    assert list((root / "objects" / "pack").glob("*.pack"))
    assert [store.head(uid).payload for uid in uids] == list(range(8))
    assert fsck(store).ok


def test_one_writer_of_many_records_starts_a_gc(tmp_path):
    """One process committing Records one by one (a screening loop) leaves
    one log, never many: past `ASR_AUTO_GC_FRAMES` frames it starts a `gc`
    in the background, which folds its log while it goes on writing."""
    import subprocess
    import sys
    import time

    init_store(tmp_path)
    root = tmp_path / ".asr"
    script = (
        "import sys\n"
        "from asr.store import DiskStore, IndexTerms, digest\n"
        "store = DiskStore(sys.argv[1])\n"
        "for i in range(100):\n"
        "    blob = store.put_blob(b'file %d' % i)\n"
        "    terms = IndexTerms(digest(b'k%d' % i), digest(b'shape'), [float(i)])\n"
        "    print(store.commit({'i': i, 'file': blob}, index=terms).uid)\n"
    )
    env = {**os.environ, "ASR_AUTO_GC_FRAMES": "32"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    uids = done.stdout.split()
    for _ in range(600):  # the gcs it started (each exec'd before it went on)
        if not autogc.running(root):
            break
        time.sleep(0.1)
    store = DiskStore(root)
    assert list((root / "objects" / "pack").glob("*.pack"))
    store._log.refresh()
    assert len(store._log.refs) < 100  # at least the first 32 were folded
    assert [store.head(uid).payload["i"] for uid in uids] == list(range(100))
    assert fsck(store).ok
