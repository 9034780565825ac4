"""A separate process that writes into a store, for the multi-process tests.

Run as ``python store_worker.py MODE ARGS...``. Every record is reported on
stdout as one JSON line, flushed, only after the write that made it returned.
Any error ends the process with a traceback and a non-zero exit code.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from asr.store import DiskStore, IndexTerms, digest
from asr.store.files import FileLock
from asr.store.objects import StoredObject, record_header


def terms(exact: str, shape: str, floats) -> IndexTerms:
    return IndexTerms(digest(exact.encode()), digest(shape.encode()), floats)


def report(record: StoredObject) -> None:
    index = record.index
    line = {"uid": record.uid, "oid": record.oid}
    if index is not None:
        line |= {
            "exact": index.exact.hex(),
            "shape": index.shape.hex(),
            "floats": index.floats.tolist(),
        }
    print(json.dumps(line), flush=True)


def write(root: str, worker: int, count: int, start_at: float) -> None:
    """Overlapping content: shared blobs, shared and own index terms."""
    store = DiskStore(root)
    time.sleep(max(0.0, start_at - time.time()))  # all start together
    shared = [store.put_blob(f"shared blob {k}\n".encode() * 500) for k in range(4)]
    bulk = worker % 4 == 3
    writer = store.bulk() if bulk else None
    target = writer if bulk else store
    done = []
    for j in range(count):
        if j % 2:
            shape = "shared shape"
            index = terms(f"shared {j % 3}", shape, [j % 3, 0.5])
        else:
            shape = f"shape {worker % 4}"
            index = terms(f"own {worker} {j}", shape, [worker, j])
        payload = {
            "worker": worker,
            "j": j,
            "shared": shared[j % 4],
            "own": target.put_blob(f"worker {worker} record {j}".encode()),
            "array": np.arange(j + 1.0),
        }
        record = target.commit(payload, index=index)
        if j % 3 == 0:  # a second revision, with other index terms
            new_index = terms(f"revised {worker} {j}", shape, [-1.0, j])
            record = target.commit(
                {**payload, "revised": True},
                uid=record.uid,
                parent=record.oid,
                index=new_index,
            )
        if bulk:
            done.append(record)
        else:
            report(record)
    if bulk:
        writer.flush()
        for record in done:
            report(record)


def write_and_read(root: str, worker: int, seconds: float) -> None:
    """Write records, and read earlier ones back, while gc runs."""
    store = DiskStore(root)
    rng = np.random.default_rng(worker)
    written: list[tuple[StoredObject, bytes]] = []
    end = time.monotonic() + seconds
    j = 0
    while (time.monotonic() < end and j < 150) or j < 10:  # pipe stays < 64 kB
        data = f"worker {worker} blob {j}".encode() * int(rng.integers(1, 200))
        blob = store.put_blob(data)
        index = terms(f"{worker} {j}", f"shape {j % 2}", [worker, j])
        record = store.commit({"blob": blob, "j": j}, index=index)
        if j % 4 == 0:
            record = store.commit(
                {"blob": blob, "j": j, "v": 2},
                uid=record.uid,
                parent=record.oid,
                index=terms(f"{worker} {j} v2", f"shape {j % 2}", [worker, -j]),
            )
        report(record)
        written.append((record, data))
        for k in rng.integers(0, len(written), 3):
            old, old_data = written[k]
            assert store.head(old.uid).oid == old.oid
            assert store.get_blob(old.payload["blob"]) == old_data
            assert old.uid in {r.uid for r in store.find(old.index.exact)}
            similar = store.find_similar(old.index.shape, old.index.floats)
            assert old.uid in {r.uid for r in similar}
            assert store.has(old.oid)
        j += 1


def commit_loop(root: str, seed: int, gc_every: int) -> None:
    """Commit records until killed; every `gc_every` records run gc too."""
    from asr.store.pack import gc

    store = DiskStore(root)
    rng = np.random.default_rng(seed)
    j = 0
    while True:
        if gc_every and j % gc_every == gc_every - 1:
            gc(store, repack=j % (2 * gc_every) == 2 * gc_every - 1)
        size = int(rng.integers(1_000, 400_000))
        blob = store.put_blob(rng.bytes(size))
        index = terms(f"{seed} {j}", "crash shape", [seed, j])
        record = store.commit({"blob": blob, "seed": seed, "j": j}, index=index)
        if j % 3 == 0:
            record = store.commit(
                {"blob": blob, "v": 2},
                uid=record.uid,
                parent=record.oid,
                index=terms(f"{seed} {j} v2", "crash shape", [seed, -j]),
            )
        report(record)
        j += 1


def move_loop(root: str, worker: int, count: int, rounds: int) -> None:
    """New revisions of `count` records, `rounds` times, their refs moved in
    batches (as migrations move them); reports each record's last head."""
    store = DiskStore(root)
    with store.bulk() as batch:
        heads = {
            r.uid: r.oid for r in (batch.commit({"w": worker}) for _ in range(count))
        }
    for round_ in range(1, rounds + 1):
        with store.bulk() as batch:
            moves = [
                (
                    uid,
                    batch.put_object(
                        "record",
                        record_header(uid, old, None),
                        {"w": worker, "r": round_},
                    ),
                    old,
                )
                for uid, old in heads.items()
            ]
        assert store.move_refs(moves) == [True] * len(moves)
        heads = {uid: new for uid, new, _old in moves}
    for uid, oid in heads.items():
        print(json.dumps({"uid": uid, "oid": oid}), flush=True)


def contend(lock_path: str, folder: str, rounds: int, start_at: float) -> None:
    """Take a lock many times; fail if anyone else is inside at the same time.

    Prints how often the lock was busy when we wanted it.
    """
    inside = os.path.join(folder, "inside")
    counter = os.path.join(folder, "counter")
    busy = 0
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(rounds):
        lock = FileLock(lock_path, timeout=30)
        if not lock.try_acquire():
            busy += 1
            lock.acquire()
        try:
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # alone?
            os.close(fd)
            with open(counter) as f:
                value = int(f.read() or 0)
            time.sleep(0.0005)
            with open(counter, "w") as f:
                f.write(str(value + 1))
            os.unlink(inside)
        finally:
            lock.release()
    print(busy, flush=True)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "write":
        write(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif mode == "write-and-read":
        write_and_read(args[0], int(args[1]), float(args[2]))
    elif mode == "commit-loop":
        commit_loop(args[0], int(args[1]), int(args[2]))
    elif mode == "move-loop":
        move_loop(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif mode == "contend":
        contend(args[0], args[1], int(args[2]), float(args[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")
