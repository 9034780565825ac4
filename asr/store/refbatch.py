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
from .files import (
    HOST,
    _make_folder,
    _tmp_name,
    listdir,
    read_bytes,
    remove,
    write_atomic,
)
from .ids import ObjectId, Uid

BATCH = b"batch"
HEAD = ".head"
STOPPED = ".stopped"  # a batch that stopped partway: some refs may not have moved
LOCK = ".lock"
MAX_LINKS = 4096  # per head file; file systems allow 32,000 or more
TOUCH_EVERY = 256  # refresh the locks' age (one inode: all of them at once)
# gc's safety rests on order, not on time (see `idle_tables`). The grace is
# kept for NFS, whose clients may cache a folder's listing for up to a
# minute (acdirmax), so a head file made on another host can be unseen
# for that long; ten minutes covers that and ordinary clock skew.
IDLE_SECONDS = 600.0


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
        meta={"batch": os.urandom(8).hex()},  # one table per batch, never shared
    )
    name, data = tables.encode(table)
    # The head file comes first: from before the table exists until every
    # ref is moved, it says "in use" to gc. Durable: every moved ref is it.
    holder = LockHolder(store, name, f" batch {name}", durable=True, batch=name)
    with holder:
        write_atomic(_table_path(store, name), data)
        results = [_move_one(store, holder, uid, exp) for uid, _oid, exp in moves]
        holder.partial = not all(moved is True for moved in results)
        return results


def _table_path(store, name: str):
    return store.refs_dir / "batch" / f"{name}{tables.SUFFIX}"


def _move_one(store, holder: LockHolder, uid: Uid, expected: ObjectId | None):
    ref = store._loose_ref(uid)
    if not holder.lock(ref):
        return None  # held by another writer, or no links: the usual way
    lock = ref + LOCK
    try:
        if store.get_ref(uid) != expected:
            remove(lock)
            return False
        os.replace(lock, ref)
    except BaseException:
        remove(lock)
        raise
    return True


class LockHolder:
    """One file whose hard links are the locks of many refs.

    Taking a ref's lock is a `link` to this file (atomic and exclusive, on
    NFS too), which costs a few microseconds where a new lock file costs an
    inode. The file starts with a lock holder's line (host, pid, time), so
    a waiter breaks the locks of a holder that died as it breaks any other;
    it is touched now and then, so that a live holder's locks never look
    stale. Its name, ``refs/batch/<name>.head<tmp>``, tells `gc` that
    batch `<name>` is being moved.
    """

    def __init__(
        self,
        store,
        name: str,
        suffix: str = "",
        durable: bool = False,
        batch: str | None = None,
    ):
        self.store = store
        self.path = _tmp_name(store.refs_dir / "batch" / f"{name}{HEAD}")
        self.line = f"{HOST} {os.getpid()} {time.time():.3f}{suffix}\n".encode()
        self.durable = durable
        self.batch = batch
        self.partial = False  # some refs of the batch did not move
        self.count = 0

    def __enter__(self) -> LockHolder:
        write_atomic(self.path, self.line, durable=self.durable)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        # The locks and refs keep the file; only this name goes. A batch
        # that failed or left refs unmoved says so, as one killed does.
        if (exc_type is not None or self.partial) and self.batch is not None:
            stopped(self.path)
        else:
            remove(self.path)

    def lock(self, ref: str) -> bool:
        """Take the lock of `ref`; False if it is held (or links fail here)."""
        self.count += 1
        if self.count % TOUCH_EVERY == 0:
            os.utime(self.path)  # one inode: every lock's age at once
        try:
            try:
                os.link(self.path, ref + LOCK)
            except FileNotFoundError:
                _make_folder(os.path.dirname(ref))
                os.link(self.path, ref + LOCK)
        except OSError:  # held (FileExistsError), no hard links, too many
            return False
        return True

    def unlock(self, ref: str) -> None:
        remove(ref + LOCK)


def idle_tables(store, grace: float | None = None) -> list[str]:
    """Names of batch tables older than `grace` seconds whose batch is not
    being moved: once no loose ref names one, it can go.

    Safe with no grace at all, by order: a batch makes its head file before
    its table and removes it after its last ref moved. So the tables are
    listed first and the head files after, in a second listing: a table
    seen in the first has had its head since before that listing, and a
    head missing from the second was removed, its refs all written, before
    the caller reads the refs. (One listing is not enough: `readdir` may
    miss a name made while it runs.)
    """
    grace = IDLE_SECONDS if grace is None else grace
    folder = store.refs_dir / "batch"
    names = tables.names_in(folder)
    moving = {name.split(HEAD)[0] for name in listdir(folder) if HEAD in name}
    idle = []
    for name in names:
        batch = name[: -len(tables.SUFFIX)]
        try:
            age = time.time() - os.stat(folder / name).st_mtime
        except FileNotFoundError:
            continue
        if batch not in moving and age > grace:
            idle.append(batch)
    return idle


def remove_table(store, name: str) -> None:
    remove(_table_path(store, name))
    remove(store.refs_dir / "batch" / f"{name}{STOPPED}")  # after its table
    store._batch_tables.pop(name, None)


def is_head_file(path) -> bool:
    """Is this the head file of a batch (`refs/batch/<name>.head<tmp>`)?"""
    return os.path.basename(os.path.dirname(path)) == "batch" and HEAD in str(path)


def stopped(head) -> None:
    """Mark the batch of a head file whose writer stopped (failed or was
    killed) as stopped: its table may hold refs that never moved, which
    must not be taken for refs whose loose file was lost (`unsettled`)."""
    name = os.path.basename(head).split(HEAD)[0]
    mark = os.path.join(os.path.dirname(head), name + STOPPED)
    try:
        os.replace(head, mark)
    except FileNotFoundError:
        pass


def unsettled(store) -> set[str]:
    """Batches being moved (a head file) or stopped partway (a stopped
    mark): refs of their tables need not have moved."""
    found = set()
    for name in listdir(store.refs_dir / "batch"):
        if HEAD in name:
            found.add(name.split(HEAD)[0])
        elif name.endswith(STOPPED):
            found.add(name[: -len(STOPPED)])
    return found


def named_batch(text: bytes) -> str | None:
    """The batch a loose ref's text names, if it is a batch line."""
    fields = text.split()
    if len(fields) == 5 and fields[3] == BATCH:
        return fields[4].decode()
    return None


def batch_ref(store, uid: str, text: bytes) -> ObjectId:
    """The head of `uid` whose loose ref holds a batch line (`text`)."""
    name = named_batch(text)
    if name is None:
        raise StoreError(f"ref {uid} holds {text[:80]!r}, which is not a ref")
    table = store._batch_tables.get(name)
    if table is None:
        path = _table_path(store, name)
        try:
            table = store._batch_tables[name] = tables.load(path)
        except FileNotFoundError:
            if _loose_text(store, uid) != text:  # gc packed it meanwhile
                return store.get_ref(uid)
            raise StoreError(f"ref {uid} names {path}, which is missing") from None
    rows = table.rows(bytes.fromhex(uid))
    if not rows:
        raise StoreError(f"ref {uid} names batch {name}, which does not hold it")
    return ObjectId(table.columns["oid"][rows[0]].tobytes())


def _loose_text(store, uid: str) -> bytes | None:
    try:
        return read_bytes(store._loose_ref(uid))
    except FileNotFoundError:
        return None
