"""`asr fsck`: verify every object, pack, ref and revision chain.

Errors (exit non-zero): corrupt objects or tables, refs that point at missing
or wrong objects, revision chains with a missing parent. Notes (exit zero):
unreachable objects (a writer killed between object and ref), stale index
entries, temporary files of killed writers, frames torn off the end of a
commit log (a writer killed while appending: never acknowledged).
`repair=True` removes those temp files and rebuilds the index.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, tables
from .disk import DiskStore
from .errors import DecodeError, ObjectNotFoundError, StoreError
from .files import is_tmp, read_bytes
from .ids import ObjectId, hash_bytes
from .log import read_logs
from .objects import decode_object
from .pack import PACK_MAGIC, rebuild_index, remove_tmp_files, tmp_files

_OBJECT_ID_MARK = bytes([0xD8, codec.EXT_OBJECT_ID])


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    errors: list[str] = field(default_factory=list)
    unreachable: list[ObjectId] = field(default_factory=list)
    tmp_files: list[Path] = field(default_factory=list)
    torn_logs: list[Path] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def fsck(
    store: DiskStore,
    repair: bool = False,
    progress: Callable[[int], None] | None = None,
) -> FsckReport:
    """Check the whole store; see the module docstring for what counts."""
    report = FsckReport()
    kinds: dict[ObjectId, str] = {}
    headers: dict[ObjectId, tuple] = {}  # record -> (uid, parent)
    references: dict[ObjectId, list[ObjectId]] = {}  # only non-empty lists

    def check(oid: ObjectId, data: bytes, where: str) -> None:
        report.objects += 1
        if progress:
            progress(1)
        actual = hash_bytes(data)
        if actual != oid:
            report.errors.append(
                f"corrupt object {oid} in {where}: expected hash {oid}, actual {actual}"
            )
            return
        try:
            obj = decode_object(oid, data, where)
        except (DecodeError, StoreError) as err:
            report.errors.append(f"undecodable object {oid} in {where}: {err}")
            return
        kinds[oid] = obj.kind
        if obj.kind == "record":
            headers[oid] = (obj.uid, obj.parent)
            # An object id anywhere inside is stored as these two bytes and its
            # 16 raw ones (fixext 16, type 4): without them, no need to look.
            has_ids = _OBJECT_ID_MARK in data
            refs = codec.references(obj.payload) if has_ids else []
            if obj.parent is not None:
                refs.append(obj.parent)
            if refs:
                references[oid] = refs

    for oid in store.iter_loose_files():
        path = store.loose_path(oid)
        with contextlib.suppress(FileNotFoundError):
            check(oid, read_bytes(path), str(path))

    logs = read_logs(store.log_paths())
    for path, frame, data in logs.frames:
        if frame.oid is not None:
            check(frame.oid, data, f"log {path} at {frame.data_offset}")
    for path, offset in logs.damaged:
        report.errors.append(
            f"damaged frame in commit log {path} at {offset}: the rest is unread"
        )
    report.torn_logs = [path for path, _offset in logs.torn]

    for name in sorted(os.listdir(store.pack_dir)):
        path = store.pack_dir / name
        if is_tmp(name):
            continue
        if name.endswith(tables.SUFFIX):
            _check_pack(store, path, check, report)

    heads = []
    for uid, oid in store.iter_refs(on_error=report.errors.append):
        report.refs += 1
        heads.append(oid)
        if oid not in kinds:  # missing, or corrupt and reported as such
            if not _present(store, oid):
                report.errors.append(f"ref {uid} points at missing object {oid}")
            continue
        # Every object was decoded above: use what was seen, read nothing twice.
        if kinds[oid] != "record" or headers[oid][0] != uid:
            report.errors.append(f"ref {uid} points at {oid}, not one of its revisions")
            continue
        _check_chain(store, uid, oid, headers, report)

    reachable = _reachable(heads, references)
    report.unreachable = sorted(oid for oid in kinds if oid not in reachable)
    for oid, refs in references.items():
        if oid in reachable:
            for target in refs:
                if target not in kinds and not _present(store, target):
                    report.errors.append(f"object {oid} refers to missing {target}")

    report.tmp_files = tmp_files(store)
    if repair:
        removed = remove_tmp_files(store)
        report.repaired += [f"removed {p}" for p in removed]
        report.tmp_files = [p for p in report.tmp_files if p not in removed]
        count = rebuild_index(store)
        report.repaired.append(f"rebuilt the index of {count} records")
    return report


def _present(store: DiskStore, oid: ObjectId) -> bool:
    """Is the object there? Unknown behind a corrupt pack index, which is
    reported on its own: then say yes rather than report it missing too."""
    try:
        return store.has(oid)
    except StoreError:
        return True


def _check_pack(store: DiskStore, table_path: Path, check, report: FsckReport):
    try:
        table = tables.load(table_path)
    except (StoreError, ValueError) as err:
        report.errors.append(f"corrupt pack index {table_path}: {err}")
        return
    pack_path = store.pack_dir / table.meta["pack"]
    try:
        data = read_bytes(pack_path)
    except FileNotFoundError:
        report.errors.append(f"pack {pack_path} of {table_path.name} is missing")
        return
    if not data.startswith(PACK_MAGIC):
        report.errors.append(f"pack {pack_path} has a bad header")
    offsets = table.columns["offset"].tolist()
    lengths = table.columns["length"].tolist()
    ids = table.keys.tobytes().hex()  # S16 rows: 16 bytes each, zeros kept
    for row, (start, length) in enumerate(zip(offsets, lengths)):
        oid = ObjectId(ids[32 * row : 32 * row + 32])
        check(oid, data[start : start + length], f"pack {pack_path.name} at {start}")


def _check_chain(store: DiskStore, uid, head, headers: dict, report: FsckReport):
    """Walk the revision chain from `head` by the (uid, parent) headers seen."""
    seen = set()
    oid, parent = head, headers[head][1]
    while parent is not None:
        if parent in seen:
            report.errors.append(f"record {uid}: revision chain loops at {parent}")
            return
        seen.add(parent)
        known = headers.get(parent)
        if known is None:  # not a record decoded above: read it
            try:
                obj = store.get(parent)
            except ObjectNotFoundError:
                report.errors.append(
                    f"record {uid}: revision {oid} has missing parent {parent}"
                )
                return
            except StoreError:
                return
            known = (obj.uid, obj.parent)
        oid, parent = parent, known[1]


def _reachable(heads: list[ObjectId], references: dict) -> set[ObjectId]:
    stack = list(heads)
    reachable: set[ObjectId] = set()
    while stack:
        oid = stack.pop()
        if oid in reachable:
            continue
        reachable.add(oid)
        stack.extend(references.get(oid, ()))
    return reachable
