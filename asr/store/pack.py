"""Packs, batches and garbage collection of a `Maintained`.

A pack is committed when its table (the pack index) is renamed into place;
only then are the loose copies it holds deleted. The same rule holds for
index segments and packed refs, so a process killed at any moment leaves
either the old files or the new ones, never a gap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import refbatch, tables, trash
from .collector import collector_paused
from .errors import StoreError
from .files import (
    FileLock,
    create_empty,
    is_tmp,
    listdir,
    read_bytes,
    remove,
    tmp_is_orphan,
    write_atomic,
)
from .ids import ObjectId, Uid, digest, hash_bytes
from .log import Frame, read_logs
from .maintenance import COMMITTED, Maintained
from .objects import (
    IndexTerms,
    StoredObject,
    decode_object,
    encode_object,
    record_header,
)
from .segments import index_segment, segment_entries

PACK_MAGIC = b"ASRPACK1\n"


def write_pack(store: Maintained, items: list[tuple[ObjectId, bytes]]) -> Path | None:
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


def write_packed_refs(store: Maintained, refs: dict[Uid, ObjectId]) -> Path | None:
    """Commit `refs` as a packed-refs table, then mark it committed.

    The mark (rule 5 of `maintenance`) lets fsck tell a lost table (its
    mark stays) from one never written (an import killed before it).
    """
    if not refs:
        return None
    table = tables.build(
        "refs",
        tables.hex16_column(refs),
        {"oid": tables.hex16_column(refs.values())},
    )
    path = tables.save(table, store.refs_dir / "packed")
    mark = committed_mark(path)
    create_empty(mark)
    if not path.exists():  # a gc merged it between the two: no mark of it
        remove(mark)
    return path


def committed_mark(table: Path) -> Path:
    """The mark of a committed packed-refs table."""
    return table.with_name(table.name.removesuffix(tables.SUFFIX) + COMMITTED)


def remove_packed_refs(table: Path) -> None:
    """Remove a packed-refs table with its mark, so no mark outlives its table.

    The mark goes first and again last: a writer that marks the table just
    after the first removal (it renamed the table in, gc merged it at once)
    either sees the table gone and removes the mark itself, or has marked it
    before the second removal.
    """
    mark = committed_mark(table)
    remove(mark)
    remove(table)
    remove(mark)


class BulkWriter:
    """Batches writes: one pack, one index segment, one ref table per flush.

    Used for imports of many records at once. New records go into the batch;
    a record whose uid already has a ref is written the normal way (its ref
    must be moved with compare-and-swap). Used as a context manager
    (`with store.bulk() as writer:`), it flushes at the end and holds Python's
    cyclic garbage collector off meanwhile (see `collector.py`): a third
    faster when the records to import are all in memory.
    """

    COLLECT_EVERY = 8192  # objects added between two collections of young garbage

    def __init__(
        self, store: Maintained, max_records: int = 200_000, max_bytes: int = 256 << 20
    ):
        self.store = store
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._objects: dict[ObjectId, bytes] = {}
        self._bytes = 0
        self._exact: list[tuple[bytes, Uid]] = []
        self._shape: list[tuple[bytes, Uid, np.ndarray]] = []
        self._refs: dict[Uid, ObjectId] = {}
        self._paused: ExitStack | None = None
        self._collect: Callable[[], int] | None = None

    def __enter__(self) -> BulkWriter:
        self._paused = ExitStack()
        self._collect = self._paused.enter_context(collector_paused())
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.flush()
        finally:
            self._paused.close()
            self._paused = self._collect = None

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
            if self._collect and len(self._objects) % self.COLLECT_EVERY == 0:
                self._collect()
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
            or self.store.loose_ref_path(uid).exists()
        )

    def get(self, oid: str) -> StoredObject:
        data = self._objects.get(oid)
        if data is None:
            return self.store.get(oid)
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
    removed_loose: int = 0  # loose files removed, and objects of folded logs
    packs_merged: int = 0
    index_entries: int = 0
    skipped_corrupt: int = 0
    removed_tmp: int = 0
    folded_logs: int = 0
    packed_refs: int = 0  # loose refs folded into the packed refs
    removed_batches: int = 0  # batch tables no ref names any more
    removed_locks: int = 0  # call-lock files whose holder is gone


def _gc_lock(store: Maintained) -> FileLock:
    return FileLock(store.root / "locks" / "gc.lock", timeout=3600)


def remove_stale_locks(store: Maintained) -> int:
    """Remove the call-lock files (`locks/*.lock`) whose holder is gone.

    By the rule a waiting process breaks them with (`FileLock`): a holder
    of this host that is dead or a zombie, or one elsewhere that stopped
    touching its file; a live holder's lock is never removed, and one a
    process takes meanwhile is put back. Returns how many went.
    """
    folder = store.root / "locks"
    names = [n for n in listdir(folder) if n.endswith(".lock") and n != "gc.lock"]
    return sum(FileLock(folder / name).break_if_stale() for name in names)


def gc(
    store: Maintained, repack: bool = False, progress=None, background: bool = True
) -> GcReport:
    """Pack loose objects and commit logs; safe while others write.

    Never deletes a loose copy or a log before what it holds is committed
    in a pack, an index segment and a packed-refs table, and never removes
    an object: what a ref reaches stays reachable. Packed loose copies are
    moved into a trash folder, removed by a detached process (`background`)
    or before returning.
    """
    report = GcReport()
    with _gc_lock(store):
        leftover = trash.folders(store.root)  # of earlier runs: all done
        trash_bin = trash.Trash(store.root)
        folded = _fold_logs(store, report)
        _pack_objects(store, repack, report, progress, folded.objects, trash_bin)
        _pack_index(store, report, [frame for _uid, frame in folded.index])
        loose = _read_loose_refs(store)
        _merge_packed_refs(store, folded.refs, loose)
        report.packed_refs = _remove_packed_loose_refs(store, loose)
        folded.remove()
        report.removed_batches = _remove_unused_batches(store)
        report.removed_locks = remove_stale_locks(store)
    trash.empty([*leftover, trash_bin.folder], wait=not background)
    store.refresh()
    return report


@dataclass
class _Folded:
    """The usable content of the logs gc took, and the logs to delete after."""

    objects: list[tuple[ObjectId, bytes]]
    index: list[tuple[Uid, Frame]]
    refs: dict[Uid, ObjectId]
    data: dict[ObjectId, bytes]
    paths: list[Path]

    def remove(self) -> None:
        for path in self.paths:
            remove(path)


def _fold_logs(store: Maintained, report: GcReport) -> _Folded:
    """Take every log (rename it to `.fold`, which tells its writer to start
    a new one) and read what it holds. A log with a damaged frame or object
    is left alone, for fsck to report."""
    taken = []
    for path in store.log_paths():
        if path.suffix == ".log":
            target = path.with_suffix(".fold")
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue
            path = target
        taken.append(path)
    contents = read_logs(taken)
    bad = {path for path, _offset in contents.damaged}
    for path, frame, data in contents.frames:
        if frame.oid is not None and hash_bytes(data) != frame.oid:
            bad.add(path)
            report.skipped_corrupt += 1
    folded = _Folded([], [], {}, {}, [p for p in taken if p not in bad])
    for path, frame, data in contents.frames:
        if path in bad:
            continue
        if frame.oid is not None and frame.oid not in folded.data:
            folded.data[frame.oid] = data
            folded.objects.append((frame.oid, data))
        if frame.floats is not None and frame.uid is not None:
            folded.index.append((frame.uid, frame))
        if frame.new_ref and frame.uid is not None and frame.oid is not None:
            folded.refs[frame.uid] = frame.oid
    report.folded_logs = len(folded.paths)
    return folded


def _pack_objects(
    store: Maintained,
    repack: bool,
    report: GcReport,
    progress,
    logged: list[tuple[ObjectId, bytes]],
    trash_bin: trash.Trash,
) -> None:
    items: list[tuple[ObjectId, bytes]] = []
    for oid in store.iter_loose_files():
        try:
            data = read_bytes(store.loose_object_file(oid))
        except FileNotFoundError:
            continue
        if hash_bytes(data) != oid:
            report.skipped_corrupt += 1
            continue
        items.append((oid, data))
        if progress:
            progress()
    verified_loose = len(items)
    seen = {oid for oid, _ in items}
    for oid, data in logged:
        if oid not in seen:
            seen.add(oid)
            items.append((oid, data))
        if progress:
            progress()
    old_tables = store.pack_names() if repack else []
    if repack:
        for table in store.pack_tables():
            for row in range(len(table)):
                oid = ObjectId(table.key(row))
                if oid not in seen:
                    seen.add(oid)
                    items.append((oid, store.read_packed(table, row)))
        report.packs_merged = len(old_tables)
    if not items:
        return
    new_table = write_pack(store, items)
    report.packed_objects = len(items)
    store.pack_tables(refresh=True)
    verified = items[:verified_loose]  # not corrupt
    paths = [store.loose_object_file(oid) for oid, _data in verified]
    report.removed_loose += sum(_in_parallel(trash_bin.move, paths)) + len(logged)
    _remove_empty_folders({os.path.dirname(path) for path in paths})
    for name in old_tables:
        if name != new_table.name:
            pack_name = tables.load(store.pack_dir / name).meta["pack"]
            remove(store.pack_dir / name)  # the table first: it commits the pack
            remove(store.pack_dir / pack_name)


def _pack_index(store: Maintained, report: GcReport, entries: list[Frame]) -> None:
    """Merge the index segments and the logs' index entries into one segment.

    A record revised in place (same uid and shape) may have several float
    vectors: all are kept, lookups check each candidate against its head,
    and `reindex` drops the stale ones.
    """
    old = store.segment_names()
    if not entries and len(old) <= 1:
        return
    exact: set[tuple[bytes, Uid]] = set()
    shape: dict[tuple[bytes, Uid, bytes], np.ndarray] = {}
    for name in old:
        table = tables.load(store.index_dir / "packed" / name)
        seg_exact, seg_shape = segment_entries(table)
        exact.update(seg_exact)
        shape.update({(s, u, v.tobytes()): v for s, u, v in seg_shape})
    for frame in entries:
        exact.add((frame.exact, frame.uid))
        key = (frame.shape, frame.uid, frame.floats)
        if key not in shape:
            shape[key] = np.frombuffer(frame.floats, "<f8")
    segment = index_segment(
        sorted(exact), [(s, u, v) for (s, u, _b), v in shape.items()]
    )
    new_path = tables.save(segment, store.index_dir / "packed")
    report.index_entries = len(exact) + len(shape)
    _remove_segments(store, old, new_path)


def _remove_segments(store: Maintained, old: list[str], keep: Path) -> None:
    for name in old:
        if name != keep.name:
            remove(store.index_dir / "packed" / name)


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

    Fan-out folders (`objects/ab`) stay: there are at most 256 of them,
    writers would make them again, and removing a folder that held many
    entries frees its blocks, which can wait for the disk.
    """
    for folder in folders:
        if len(os.path.basename(folder)) == 2:
            continue
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # fails (harmlessly) while not empty


def _merge_packed_refs(
    store: Maintained,
    logged: dict[Uid, ObjectId],
    loose: dict[Uid, tuple[bytes, ObjectId]] | None = None,
) -> None:
    """One packed-refs table from all of them, the logs' new refs and the
    loose refs (which override the others, as they do for readers)."""
    folder = store.refs_dir / "packed"
    old = store.packed_ref_names()
    if not logged and not loose and len(old) <= 1:
        return
    refs = {uid: oid for uid, (_text, oid) in (loose or {}).items()}
    for name in old:
        table = tables.load(folder / name)
        for row in range(len(table)):
            refs.setdefault(
                Uid(table.key(row)), ObjectId(table.columns["oid"][row].tobytes())
            )
    for uid, oid in logged.items():
        refs.setdefault(uid, oid)  # new uids: nothing to override
    new_path = write_packed_refs(store, refs)
    for name in old:
        if new_path is None or name != new_path.name:
            remove_packed_refs(folder / name)


def _read_loose_refs(store: Maintained) -> dict[Uid, tuple[bytes, ObjectId]]:
    """Every loose ref that names a head, with its text. Tombstones stay
    loose (they hide refs in logs gc may not have folded); so do refs that
    cannot be read, for fsck to report."""
    found = {}
    for hexid, text in store.loose_ref_texts():
        try:
            oid = store.parse_ref(hexid, text)
        except StoreError:
            continue
        if oid is not None:
            found[Uid(hexid)] = (text, oid)
    return found


def _remove_packed_loose_refs(
    store: Maintained, loose: dict[Uid, tuple[bytes, ObjectId]]
) -> int:
    """Remove the loose refs just packed, each under its lock and only if it
    has not moved since it was read: a ref that moved stays loose, and
    loose overrides packed. Returns how many went."""
    if not loose:
        return 0
    removed = 0
    with refbatch.LockHolder(store, "gc") as holder:
        for uid, (text, _oid) in loose.items():
            ref = store.loose_ref_file(uid)
            if not holder.lock(ref):
                continue  # being moved: it stays loose
            try:
                if read_bytes(ref) == text:
                    os.unlink(ref)
                    removed += 1
            except FileNotFoundError:
                pass
            finally:
                holder.unlock(ref)
    return removed


def _remove_unused_batches(store: Maintained) -> int:
    """Remove the batch tables that no loose ref names any more (their refs
    were packed or moved on). Looked at in this order: the idle tables,
    then the refs, so that a batch moving meanwhile is never missed."""
    idle = refbatch.idle_tables(store)
    if not idle:
        return 0
    named = {refbatch.named_batch(text) for _hexid, text in store.loose_ref_texts()}
    unused = [name for name in idle if name not in named]
    for name in unused:
        refbatch.remove_table(store, name)
    return len(unused)


def rebuild_index(store: Maintained) -> int:
    """Rebuild the index from refs and head objects (`asr cache reindex`).

    The logs are folded first (objects into a pack, new refs into the
    packed refs), so that their index entries can be dropped. Writers may
    move refs meanwhile: an entry of a revision whose ref has not moved yet
    (its parent is the head) is kept, and heads that moved while we read are
    indexed again.
    """
    with _gc_lock(store):
        report = GcReport()
        folded = _fold_logs(store, report)
        write_pack(store, folded.objects)
        _merge_packed_refs(store, folded.refs)
        store.refresh()
        old = store.segment_names()
        exact, shape, heads = [], [], {}
        for uid, head in store.heads():  # a damaged one: left out, with a warning
            heads[uid] = head.oid
            terms = head.index
            if terms is not None:
                exact.append((terms.exact, uid))
                shape.append((terms.shape, uid, terms.floats))
        count = len(exact)
        for uid, frame in folded.index:
            if _pending(uid, frame, heads, folded.data):
                terms = frame.terms
                exact.append((terms.exact, uid))
                shape.append((terms.shape, uid, terms.floats))
        new_path = tables.save(index_segment(exact, shape), store.index_dir / "packed")
        _remove_segments(store, old, new_path)
        folded.remove()
        store.refresh()
        for uid, oid in heads.items():
            now = store.get_ref(uid)
            if now is not None and now != oid:
                terms = store.get(now).index
                if terms is not None:
                    store.index_add(uid, terms)
    return count


def _pending(uid: Uid, frame: Frame, heads: dict, data: dict) -> bool:
    """Is this logged entry of a revision whose ref has not moved yet?"""
    head = heads.get(uid)
    if frame.oid is None:  # from `index_add`: before a new record's ref
        return head is None
    if frame.oid == head or frame.oid not in data:
        return False
    return decode_object(frame.oid, data[frame.oid]).parent == head


def remove_tmp_files(store: Maintained) -> list[Path]:
    """Remove temporary files whose writer is gone; returns what was removed."""
    removed = []
    for path in tmp_files(store):
        if not tmp_is_orphan(path):
            continue
        if refbatch.is_head_file(path):  # a batch killed partway: say so
            refbatch.stopped(path)
            removed.append(path)
        elif remove(path):
            removed.append(path)
    return removed


def tmp_files(store: Maintained) -> list[Path]:
    found = []
    for folder, _dirs, names in os.walk(store.root):
        found += [Path(folder) / n for n in names if is_tmp(n)]
    return found
