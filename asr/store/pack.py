"""Packs, batches and garbage collection of a `DiskStore`.

A pack is committed when its table (the pack index) is renamed into place;
only then are the loose copies it holds deleted. The same rule holds for
index segments and packed refs, so a process killed at any moment leaves
either the old files or the new ones, never a gap.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import tables
from .disk import DiskStore, index_segment, segment_entries
from .files import (
    FileLock,
    _tmp_name,
    is_tmp,
    read_bytes,
    read_file,
    remove,
    tmp_is_orphan,
    write_atomic,
)
from .ids import ObjectId, Uid, digest, hash_bytes
from .objects import IndexTerms, StoredObject, encode_object, record_header

PACK_MAGIC = b"ASRPACK1\n"


def write_pack(store: DiskStore, items: list[tuple[ObjectId, bytes]]) -> Path | None:
    """Write objects into a new pack; returns the path of its table."""
    if not items:
        return None
    keys = tables.hex16_column(oid for oid, _ in items)
    name = digest(keys.tobytes()).hex() + ".pack"
    datas = [data for _, data in items]
    lengths = np.fromiter(map(len, datas), np.int64, len(datas))
    offsets = np.cumsum(lengths) - lengths + len(PACK_MAGIC)
    store.pack_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(store.pack_dir / name, b"".join([PACK_MAGIC, *datas]))
    table = tables.build(
        "pack", keys, {"offset": offsets, "length": lengths}, meta={"pack": name}
    )
    return tables.save(table, store.pack_dir)  # the commit point


def write_packed_refs(store: DiskStore, refs: dict[Uid, ObjectId]) -> Path | None:
    if not refs:
        return None
    table = tables.build(
        "refs",
        tables.hex16_column(refs),
        {"oid": tables.hex16_column(refs.values())},
    )
    return tables.save(table, store.refs_dir / "packed")


class BulkWriter:
    """Batches writes: one pack, one index segment, one ref table per flush.

    Used for imports of many records at once. New records go into the batch;
    a record whose uid already has a ref is written the normal way (its ref
    must be moved with compare-and-swap).
    """

    def __init__(
        self, store: DiskStore, max_records: int = 200_000, max_bytes: int = 256 << 20
    ):
        self.store = store
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._objects: dict[ObjectId, bytes] = {}
        self._bytes = 0
        self._exact: list[tuple[bytes, Uid]] = []
        self._shape: list[tuple[bytes, Uid, np.ndarray]] = []
        self._refs: dict[Uid, ObjectId] = {}

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()

    def put_object(self, kind: str, header: dict, payload: Any) -> ObjectId:
        oid, data = encode_object(kind, header, payload)
        self._add(oid, data)
        return oid

    def put_blob(self, data: bytes) -> ObjectId:
        return self.put_object("blob", {}, bytes(data))

    def add_raw(self, data: bytes) -> ObjectId:
        oid = hash_bytes(data)
        self._add(oid, bytes(data))
        return oid

    def _add(self, oid: ObjectId, data: bytes) -> None:
        if oid not in self._objects:
            self._objects[oid] = data
            self._bytes += len(data)
            if len(self._objects) >= self.max_records or self._bytes >= self.max_bytes:
                self.flush()

    def index_add(self, uid: str, terms: IndexTerms) -> None:
        """Index `uid` by `terms` in this batch's index segment."""
        self._add_index(Uid(uid), terms)

    def _add_index(self, uid: Uid, terms: IndexTerms) -> None:
        self._exact.append((terms.exact, uid))
        self._shape.append((terms.shape, uid, terms.floats))

    def commit(
        self,
        payload: Any,
        *,
        uid: Uid | None = None,
        parent: ObjectId | None = None,
        index: IndexTerms | None = None,
    ) -> StoredObject:
        if uid is None and parent is None:  # drawn here: it cannot have a ref
            uid = Uid.new()
        elif parent is not None or self._has_ref(uid):
            self.flush()
            return self.store.commit(payload, uid=uid, parent=parent, index=index)
        header = record_header(uid, parent, index)
        oid, data = encode_object("record", header, payload)
        self._refs[uid] = oid
        if index is not None:
            self._add_index(uid, index)
        self._add(oid, data)
        return StoredObject(oid, "record", header, payload)

    def set_ref(self, uid: str, oid: str, expected: str | None = None) -> None:
        uid = Uid(uid)
        if expected is not None or self._has_ref(uid):
            self.flush()
            self.store.set_ref(uid, oid, expected)
            return
        obj = self.get(oid)
        if obj.index is not None:
            self._add_index(uid, obj.index)
        self._refs[uid] = ObjectId(oid)

    def _has_ref(self, uid: Uid) -> bool:
        """Does `uid` have a ref here or in the store, even a deleted one?

        A deleted ref is a loose tombstone, which would hide a packed ref.
        """
        return (
            uid in self._refs
            or self.store.get_ref(uid) is not None
            or self.store._ref_path(uid).exists()
        )

    def get(self, oid: str) -> StoredObject:
        data = self._objects.get(oid)
        if data is None:
            return self.store.get(oid)
        from .objects import decode_object

        return decode_object(oid, data)

    def flush(self) -> None:
        """Objects, then index, then refs: the refs are the commit point."""
        write_pack(self.store, list(self._objects.items()))
        if self._exact or self._shape:
            tables.save(
                index_segment(self._exact, self._shape), self.store.index_dir / "packed"
            )
        write_packed_refs(self.store, self._refs)
        self._objects, self._bytes = {}, 0
        self._exact, self._shape, self._refs = [], [], {}
        self.store.refresh()

    def __getattr__(self, name: str):
        return getattr(self.store, name)


@dataclass
class GcReport:
    packed_objects: int = 0
    removed_loose: int = 0
    packs_merged: int = 0
    index_entries: int = 0
    skipped_corrupt: int = 0
    removed_tmp: int = 0


def _gc_lock(store: DiskStore) -> FileLock:
    return FileLock(store.root / "locks" / "gc.lock", timeout=3600)


def gc(store: DiskStore, repack: bool = False, progress=None) -> GcReport:
    """Pack loose objects and index entries; safe while others write.

    Never deletes a loose copy before the pack holding it is committed, and
    never removes an object: what a ref reaches stays reachable.
    """
    report = GcReport()
    with _gc_lock(store):
        _pack_objects(store, repack, report, progress)
        _pack_index(store, report)
        _merge_packed_refs(store)
    store.refresh()
    return report


def _pack_objects(store: DiskStore, repack: bool, report: GcReport, progress) -> None:
    loose = list(store.iter_loose_object_ids())
    items: list[tuple[ObjectId, bytes]] = []
    for oid in loose:
        try:
            data = read_bytes(store._loose(oid))
        except FileNotFoundError:
            continue
        if hash_bytes(data) != oid:
            report.skipped_corrupt += 1
            continue
        items.append((oid, data))
        if progress:
            progress()
    verified_loose = len(items)
    old_tables = store._packs.names() if repack else []
    if repack:
        seen = {oid for oid, _ in items}
        for table in store._packs.tables():
            for row in range(len(table)):
                oid = ObjectId(table.key(row))
                if oid not in seen:
                    seen.add(oid)
                    items.append((oid, store._read_packed(table, row)[0]))
        report.packs_merged = len(old_tables)
    if not items:
        return
    new_table = write_pack(store, items)
    report.packed_objects = len(items)
    store.refresh()
    paths = [store._loose(oid) for oid, _data in items[:verified_loose]]  # not corrupt
    report.removed_loose += sum(_in_parallel(remove, paths))
    _remove_empty_folders({os.path.dirname(path) for path in paths})
    for name in old_tables:
        if name != new_table.name:
            pack_name = tables.load(store.pack_dir / name).meta["pack"]
            remove(store.pack_dir / name)  # the table first: it commits the pack
            remove(store.pack_dir / pack_name)


def _pack_index(store: DiskStore, report: GcReport) -> None:
    loose = list(store.iter_loose_index())
    old = store._segments.names()
    if not loose and len(old) <= 1:
        return
    exact: set[tuple[bytes, Uid]] = set()
    shape: dict[tuple[bytes, Uid], np.ndarray] = {}
    for name in old:
        table = tables.load(store.index_dir / "packed" / name)
        seg_exact, seg_shape = segment_entries(table)
        exact.update(seg_exact)
        shape.update({(s, u): v for s, u, v in seg_shape})
    read: dict[str, tuple[bytes, tuple]] = {}  # path -> (content, identity)
    for kind, key, uid, path in loose:
        if kind == "x":
            exact.add((key, uid))
        else:
            with contextlib.suppress(FileNotFoundError):
                data, status = read_file(path)
                read[path] = (data, _identity(status))
                shape[(key, uid)] = np.frombuffer(data, "<f8")
    segment = index_segment(sorted(exact), [(s, u, v) for (s, u), v in shape.items()])
    new_path = tables.save(segment, store.index_dir / "packed")
    report.index_entries = len(exact) + len(shape)
    _remove_index(store, old, new_path, [path for *_, path in loose], read)


def _remove_index(
    store: DiskStore,
    old: list[str],
    keep: Path,
    paths: list[str],
    packed: dict[str, tuple[bytes, tuple]] | None = None,
):
    """Remove old segments and loose entries; `packed` has what was packed
    of entries a writer may replace meanwhile (a new revision's floats)."""
    for name in old:
        if name != keep.name:
            remove(store.index_dir / "packed" / name)

    def remove_entry(path: str) -> None:
        if packed is not None and path in packed:
            _remove_if_unchanged(path, *packed[path])
        else:
            remove(path)

    _in_parallel(remove_entry, paths)
    _remove_empty_folders({os.path.dirname(path) for path in paths})


def _in_parallel(function: Callable[[Any], Any], items: list, threads: int = 16):
    """`[function(item) for item in items]`, with that many threads at once.

    For removing many files: a removal can wait for the disk (file systems
    mounted with `discard` trim the freed blocks right away), and waits in
    several threads overlap. The order of removals does not matter.
    """
    if len(items) < 256:
        return [function(item) for item in items]
    size = -(-len(items) // (threads * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ThreadPoolExecutor(threads) as pool:
        done = pool.map(lambda chunk: [function(item) for item in chunk], chunks)
        return [result for chunk in done for result in chunk]


def _remove_empty_folders(folders: set[str]) -> None:
    """Remove the folders that are empty now, once each (after all entries).

    Fan-out folders (`objects/ab`, `index/x/ab`) stay: there are at most 256
    of each, writers would make them again, and removing a folder that held
    many entries frees its blocks, which can wait for the disk.
    """
    for folder in folders:
        if len(os.path.basename(folder)) == 2:
            continue
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # fails (harmlessly) while not empty


def _identity(status: os.stat_result) -> tuple:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _remove_if_unchanged(path: str, data: bytes, identity: tuple = ()) -> None:
    """Remove `path` unless it no longer holds `data`: move it aside first,
    so a writer's replacement between our check and the removal is kept.

    A writer replaces an entry with a new file (a new inode, by rename), so
    the very file read before (same inode, size and mtime) needs no reading.
    """
    aside = _tmp_name(path)
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    with contextlib.suppress(OSError):  # exists: an even newer one is there
        if _identity(os.stat(aside)) != identity and read_bytes(aside) != data:
            os.link(aside, path)
    remove(aside)


def _merge_packed_refs(store: DiskStore) -> None:
    folder = store.refs_dir / "packed"
    old = store._packed_refs.names()
    if len(old) <= 1:
        return
    refs: dict[Uid, ObjectId] = {}
    for name in old:
        table = tables.load(folder / name)
        for row in range(len(table)):
            refs.setdefault(
                Uid(table.key(row)), ObjectId(table.columns["oid"][row].tobytes())
            )
    new_path = write_packed_refs(store, refs)
    for name in old:
        if new_path is None or name != new_path.name:
            remove(folder / name)


# An index entry not matching its record's head and older than this is stale
# (a writer moves its ref within moments of writing its entries).
STALE_ENTRY_AGE = 600.0


def _older_than(path: Path | str, seconds: float) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime > seconds
    except FileNotFoundError:
        return False


def rebuild_index(store: DiskStore) -> int:
    """Rebuild the index from refs and head objects (`asr cache reindex`).

    Writers may move refs meanwhile. A loose entry is deleted only if the new
    segment holds the same entry, so entries of a revision whose ref has not
    moved yet survive; heads that moved while we read are indexed again.
    """
    with _gc_lock(store):
        loose = list(store.iter_loose_index())
        old = store._segments.names()
        exact, shape, heads = [], [], {}
        for uid, oid in store.iter_refs():
            heads[uid] = oid
            terms = store.get(oid).index
            if terms is not None:
                exact.append((terms.exact, uid))
                shape.append((terms.shape, uid, terms.floats))
        new_path = tables.save(index_segment(exact, shape), store.index_dir / "packed")
        included = {("x", key, uid) for key, uid in exact}
        included |= {("s", key, uid) for key, uid, _floats in shape}
        indexed = [
            path for kind, key, uid, path in loose if (kind, key, uid) in included
        ]
        _remove_index(store, old, new_path, indexed)
        store.refresh()
        for uid, oid in heads.items():
            now = store.get_ref(uid)
            if now is not None and now != oid:
                terms = store.get(now).index
                if terms is not None:
                    store._index_add(uid, terms)
    return len(exact)


def remove_tmp_files(store: DiskStore) -> list[Path]:
    """Remove temporary files whose writer is gone; returns what was removed."""
    removed = []
    for path in tmp_files(store):
        if tmp_is_orphan(path) and remove(path):
            removed.append(path)
    return removed


def tmp_files(store: DiskStore) -> list[Path]:
    found = []
    for folder, _dirs, names in os.walk(store.root):
        found += [Path(folder) / n for n in names if is_tmp(n)]
    return found
