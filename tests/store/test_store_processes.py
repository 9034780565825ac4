"""Many real processes writing into one `DiskStore` at once, and crashes.

The writers run `store_worker.py` in separate Python processes. Each prints
a record only after the write that made it returned; afterwards every
printed record must be found, and `fsck` must find nothing wrong.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asr.store import DiskStore, init_store, refbatch
from asr.store.fsck import fsck
from asr.store.pack import gc, tmp_files

WORKER = Path(__file__).with_name("store_worker.py")

pytestmark = pytest.mark.slow


def start(mode: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> list[dict]:
    """Wait for a worker that must succeed; its reported records."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def check_found(store: DiskStore, records: list[dict]) -> None:
    """Every reported record is the head of its uid and found by the index."""
    for record in records:
        uid, oid = record["uid"], record["oid"]
        assert store.get_ref(uid) == oid
        assert store.head(uid).oid == oid
        if "exact" in record:
            found = store.find(bytes.fromhex(record["exact"]))
            assert uid in {r.uid for r in found}
            shape = bytes.fromhex(record["shape"])
            similar = store.find_similar(shape, record["floats"])
            assert uid in {r.uid for r in similar}


def check_clean(store: DiskStore, records: list[dict]) -> None:
    report = fsck(store)
    assert report.ok, report.errors
    assert report.unreachable == []
    assert report.tmp_files == []
    assert {uid for uid, _ in store.iter_refs()} == {r["uid"] for r in records}
    check_found(store, records)


def test_sixteen_writers_at_once(tmp_path):
    store = init_store(tmp_path)
    start_at = time.time() + 0.7
    workers = [start("write", store.root, i, 8, start_at) for i in range(16)]
    records = [r for w in workers for r in finish(w)]
    assert len(records) == 16 * 8
    assert len({r["uid"] for r in records}) == len(records)
    check_clean(DiskStore(store.root), records)
    # Many records share exact keys and shapes: each lookup finds them all.
    store = DiskStore(store.root)
    by_exact: dict[str, set[str]] = {}
    for r in records:
        by_exact.setdefault(r["exact"], set()).add(r["uid"])
    assert max(len(uids) for uids in by_exact.values()) >= 16
    for exact, uids in by_exact.items():
        assert {r.uid for r in store.find(bytes.fromhex(exact))} == uids
    gc(DiskStore(store.root))
    check_clean(DiskStore(store.root), records)


def test_gc_while_writers_write_and_read(tmp_path):
    store = init_store(tmp_path)
    workers = [start("write-and-read", store.root, i, 2.5) for i in range(4)]
    runs = 0
    while any(w.poll() is None for w in workers) or runs < 3:
        report = gc(store, repack=runs % 3 == 2)
        assert report.skipped_corrupt == 0
        runs += 1
        time.sleep(0.05)
    records = [r for w in workers for r in finish(w)]
    assert len(records) >= 40
    check_clean(DiskStore(store.root), records)
    gc(store, repack=True)
    fresh = DiskStore(store.root)
    check_clean(fresh, records)
    assert list(fresh.iter_loose_object_ids()) == []


def test_gc_packs_refs_while_batches_move_them(tmp_path, monkeypatch):
    """gc packs loose refs and removes batch tables (at once: no idle wait)
    while two processes move the same refs round after round."""
    monkeypatch.setattr(refbatch, "IDLE_SECONDS", 0.0)
    store = init_store(tmp_path)
    workers = [start("move-loop", store.root, i, 300, 12) for i in range(2)]
    runs = 0
    while any(w.poll() is None for w in workers) or runs < 2:
        gc(store)
        runs += 1
    records = [r for w in workers for r in finish(w)]
    assert len(records) == 600
    check_clean(DiskStore(store.root), records)
    gc(store)
    fresh = DiskStore(store.root)
    check_clean(fresh, records)
    assert not any(p.name.endswith(".table") for p in fresh.refs_dir.glob("batch/*"))
    assert not list(fresh.refs_dir.glob("??/*"))  # every ref packed


def kill_at_random(root: Path, seed: int, gc_every: int, delay: float) -> list[dict]:
    """Start a committing writer, SIGKILL it after `delay`; what it reported."""
    process = start("commit-loop", root, seed, gc_every)
    first = process.stdout.readline()  # it is in its loop now
    assert first, process.stderr.read()
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    out, _err = process.communicate(timeout=30)  # also reaps it
    assert process.returncode == -signal.SIGKILL
    lines = [first, *out.splitlines(keepends=True)]
    return [json.loads(line) for line in lines if line.endswith("\n")]


@pytest.mark.parametrize("gc_every", [0, 4], ids=["commits", "commits+gc"])
def test_writer_killed_at_random_moments(tmp_path, gc_every):
    store = init_store(tmp_path)
    rng = np.random.default_rng(2024 + gc_every)
    records = []
    for round_ in range(5):
        delay = float(rng.uniform(0.0, 0.4))
        records += kill_at_random(store.root, round_, gc_every, delay)
    assert len(records) >= 5
    store = DiskStore(store.root)
    report = fsck(store)
    assert report.ok, report.errors
    check_found(store, records)
    left = tmp_files(store)
    assert sorted(report.tmp_files) == sorted(left)
    repaired = fsck(store, repair=True)
    assert repaired.ok, repaired.errors
    assert repaired.tmp_files == []
    assert tmp_files(store) == []
    assert len([r for r in repaired.repaired if r.startswith("removed")]) == len(left)
    check_found(DiskStore(store.root), records)
    assert fsck(DiskStore(store.root)).tmp_files == []
