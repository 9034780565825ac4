"""Moving many refs at once: a few files per batch, not one per ref.

Making a file (an inode) is the dear part of moving a ref: on a busy disk it
costs a millisecond, while a `link` or a `rename` costs a few microseconds.
So a batch writes its new heads into one table (`refs/batch/<id>.table`)
and one *head file* holding ``<host> <pid> <time> batch <id>``. Each ref
then moves as a single ref does, by compare-and-swap under its lock, but
the lock is a hard link to the head file instead of a new file: take the
lock (`link`: atomic and exclusive, on NFS too), check the ref, rename the
lock over the ref. A loose ref holding such a line is read from the table
it names. The line starts like a lock holder's, so a process waiting for
the lock of a batch writer that died breaks it as it breaks any other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from . import tables
from .errors import StoreError
from .files import HOST, _make_folder, _tmp_name, remove, write_atomic
from .ids import ObjectId, Uid

BATCH = b"batch"
MAX_LINKS = 4096  # per head file; file systems allow 32,000 or more
TOUCH_EVERY = 256  # refresh the locks' age (one inode: all of them at once)


def move_refs(store, moves: Sequence[tuple[Uid, ObjectId, ObjectId | None]]) -> list:
    """Move refs (uid, new head, expected head) of a DiskStore in batches.

    Returns, per move, True (moved), False (the ref was elsewhere) or None
    (its lock was busy, or links are impossible here: move it the usual way).
    """
    results: list = []
    for start in range(0, len(moves), MAX_LINKS):
        results += _move_batch(store, moves[start : start + MAX_LINKS])
    return results


def _move_batch(store, moves) -> list:
    table = tables.build(
        "refs",
        tables.hex16_column(uid for uid, _oid, _expected in moves),
        {"oid": tables.hex16_column(oid for _uid, oid, _expected in moves)},
    )
    name = tables.save(table, store.refs_dir / "batch").name[: -len(tables.SUFFIX)]
    head = _tmp_name(store.refs_dir / "batch" / f"{name}.head")
    line = f"{HOST} {os.getpid()} {time.time():.3f} batch {name}\n"
    write_atomic(head, line.encode())  # durable: every moved ref is this file
    try:
        results = []
        for count, (uid, _oid, expected) in enumerate(moves, 1):
            results.append(_move_one(store, head, uid, expected))
            if count % TOUCH_EVERY == 0:
                os.utime(head)
        return results
    finally:
        remove(head)  # the refs keep the file; only this name goes


def _move_one(store, head, uid: Uid, expected: ObjectId | None) -> bool | None:
    folder = f"{store._refs_str}/{uid[:2]}"
    ref = f"{folder}/{uid[2:]}"
    lock = ref + ".lock"
    try:
        try:
            os.link(head, lock)
        except FileNotFoundError:
            _make_folder(folder)
            os.link(head, lock)
    except FileExistsError:
        return None  # held by another writer: wait for it the usual way
    except OSError:
        return None  # no hard links here, or too many
    try:
        if store.get_ref(uid) != expected:
            remove(lock)
            return False
        os.replace(lock, ref)
    except BaseException:
        remove(lock)
        raise
    return True


def batch_ref(store, uid: str, text: bytes) -> ObjectId:
    """The head of `uid` whose loose ref holds a batch line (`text`)."""
    fields = text.split()
    if len(fields) != 5 or fields[3] != BATCH:
        raise StoreError(f"ref {uid} holds {text[:80]!r}, which is not a ref")
    name = fields[4].decode()
    table = store._batch_tables.get(name)
    if table is None:
        path = store.refs_dir / "batch" / f"{name}{tables.SUFFIX}"
        try:
            table = store._batch_tables[name] = tables.load(path)
        except FileNotFoundError:
            raise StoreError(f"ref {uid} names {path}, which is missing") from None
    rows = table.rows(bytes.fromhex(uid))
    if not rows:
        raise StoreError(f"ref {uid} names batch {name}, which does not hold it")
    return ObjectId(table.columns["oid"][rows[0]].tobytes())
