"""A remote's refs, fetched in proportion to what changed.

A store's refs are mostly packed-refs tables (written by bulk imports,
clones and `gc`), which never change and are named by their hash, plus a
few refs not in a table yet (loose refs, first refs in commit logs, newer
revisions). So the listing a fetch asks for (`ref_listing`) is the names
of the sender's tables, the bytes of those the receiver has not cached,
and the refs outside tables (*the rest*). The receiver keeps the tables it
was sent in `.asr/remotes/<name>/refs/` and, in the remote's state, which
ones it has fetched and applied: only rows of tables it has not seen (and
not also in a table it has seen) and the rest are candidates for the
negotiation. Ten new Records in a store of 10^5 cost ten rows, not 10^5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import tables
from .files import read_bytes, remove, write_atomic
from .ids import ObjectId, Uid
from .transfer import Heads, TransferError

CACHE = "refs"


# -- the sender --------------------------------------------------------------


def ref_listing(store, known: list[str]) -> dict:
    """`{"tables": names, "data": {name: bytes}, "rest": {uid: head}}`:
    every packed-refs table's name, the bytes of those not in `known`, and
    every ref a table does not say (a deleted one as None)."""
    rest = heads_of(store, _untabled_uids(store))  # first:
    # a ref `gc` packs meanwhile is then in the rest or in a table listed after
    folder = store.refs_dir / "packed"
    names, data = [], {}
    for name in sorted(tables.names_in(folder)):
        if name not in known:
            try:
                data[name] = read_bytes(folder / name)
            except FileNotFoundError:  # merged by a gc meanwhile
                continue
        names.append(name)
    return {"tables": names, "data": data, "rest": rest}


def heads_of(store, uids) -> dict:
    """uid -> head (None: no such ref) of each of `uids` in `store`.

    One `get_ref` each, or, when they are many of the store's refs (the
    refs in the commit logs of a store between gcs), one pass over all its
    refs (`iter_refs`, which reads them as `get_ref` does): several times
    cheaper a ref than a lookup each."""
    uids = list(uids)
    total = sum(len(t) for t in store._packed_refs.tables()) + len(store._log.refs)
    if len(uids) * 8 < total or len(uids) < 64:
        return {uid: store.get_ref(uid) for uid in uids}
    every = dict(store.iter_refs())
    return {uid: every.get(uid) for uid in uids}


def _untabled_uids(store) -> set[str]:
    """Uids whose head a packed-refs table may not say: a loose ref (a head,
    a batch line or a tombstone) or a ref or revision in a commit log."""
    uids = {uid for uid, _text in store.loose_ref_texts()}
    logs = store._log  # the store's view of its commit logs
    logs.refresh()
    uids.update(logs.refs)
    uids.update(logs.revisions)
    return uids


# -- the receiver ------------------------------------------------------------


class RefCache:
    """The tables of one remote as the last fetch saw them."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._loaded: dict[str, tables.Table] = {}

    def names(self) -> list[str]:
        return sorted(tables.names_in(self.folder))

    def add(self, name: str, data: bytes) -> None:
        """Verify a table the remote sent (its name is its hash) and keep it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        write_atomic(path, data, durable=False)  # a cache: lost, it is sent again
        try:
            self.table(name)
        except Exception as err:
            remove(path)
            raise TransferError(f"a damaged refs table arrived: {err}") from None

    def table(self, name: str) -> tables.Table:
        table = self._loaded.get(name)
        if table is None:
            table = self._loaded[name] = tables.load(self.folder / name)
            if table.type != "refs" or "oid" not in table.columns:
                raise TransferError(f"{name} is not a refs table")
        return table

    def keep_only(self, names: list[str]) -> None:
        for name in set(self.names()) - set(names):
            remove(self.folder / name)

    def heads(self, names: list[str]) -> Heads:
        """uid -> head over `names` (a later table in name order wins, as
        `DiskStore.iter_refs` reads them). For `asr remote status`."""
        found: dict[Uid, ObjectId] = {}
        for name in sorted(names):
            table = self.table(name)
            for uid, oid in zip(_hex(table.keys), _hex(table.columns["oid"])):
                found[Uid(uid)] = ObjectId(oid)
        return found

    def count(self, names: list[str], rest: dict) -> int:
        """How many Records `names` and the rest say, without a dict of them."""
        keys = [self.table(n).keys for n in names]
        uids = np.sort(np.concatenate(keys)) if keys else np.zeros(0, "S16")
        if len(uids):  # distinct ones (a sort: np.unique hashes bytes slowly)
            uids = uids[np.concatenate([[True], uids[1:] != uids[:-1]])]
        others = np.array([bytes.fromhex(u) for u in rest], "S16")
        if len(uids) and len(others):
            at = np.searchsorted(uids, others).clip(max=len(uids) - 1)
            others = others[uids[at] != others]
        return len(uids) + len(others)

    def news(self, names: list[str], seen: list[str], rest: dict) -> Heads:
        """The heads that may differ from what was seen: rows of the tables
        in `names` but not in `seen` that no seen table has, and the rest.
        A seen table no longer cached is read as unseen (all its rows)."""
        seen_here = [n for n in seen if n in names or (self.folder / n).exists()]
        new = [n for n in names if n not in seen_here]
        found: Heads = {}
        if new:
            known = [_pairs(self.table(n)) for n in seen_here]
            known_pairs = np.sort(np.concatenate(known)) if known else None
            order = sorted(names)
            for name in new:
                table = self.table(name)
                fresh = np.flatnonzero(~_held(_pairs(table), known_pairs))
                uids = table.keys.view(np.uint8).reshape(-1, 16)
                for row in fresh.tolist():
                    uid = uids[row].tobytes()
                    found[Uid(uid.hex())] = self._head(order, uid)
        for uid, oid in rest.items():
            if oid is None:
                found.pop(Uid(uid), None)  # deleted there: nothing to bring
            else:
                found[Uid(uid)] = ObjectId(oid)
        return found

    def _head(self, order: list[str], uid: bytes) -> ObjectId:
        head = None
        for name in order:  # a later table wins
            table = self.table(name)
            for row in table.rows(uid):
                head = table.columns["oid"][row].tobytes()
        return ObjectId(head.hex())


def _held(values: np.ndarray, sorted_known: np.ndarray | None) -> np.ndarray:
    """Which `values` are in `sorted_known`: a binary search each, so the
    cost follows the new rows (np.isin would sort both sides)."""
    if sorted_known is None or not len(sorted_known):
        return np.zeros(len(values), bool)
    at = np.searchsorted(sorted_known, values).clip(max=len(sorted_known) - 1)
    return sorted_known[at] == values


def _pairs(table: tables.Table) -> np.ndarray:
    """Each row's uid and head as one 32-byte value."""
    rows = np.empty((len(table), 32), np.uint8)
    rows[:, :16] = table.keys.view(np.uint8).reshape(-1, 16)
    rows[:, 16:] = np.asarray(table.columns["oid"], np.uint8).reshape(-1, 16)
    return rows.view("S32").ravel()


def _hex(column: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(column).tobytes()
    return [raw[i : i + 16].hex() for i in range(0, len(raw), 16)]
