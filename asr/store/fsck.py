"""`asr fsck`: verify every object, pack, ref and revision chain.

Errors (exit non-zero): corrupt objects or tables, refs that point at missing
or wrong objects, revision chains with a missing parent. Notes (exit zero):
unreachable objects (a writer killed between object and ref), stale index
entries, temporary files of killed writers. `repair=True` removes those temp
files and rebuilds the index.
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
from .objects import decode_object
from .pack import PACK_MAGIC, rebuild_index, remove_tmp_files, tmp_files


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    errors: list[str] = field(default_factory=list)
    unreachable: list[ObjectId] = field(default_factory=list)
    tmp_files: list[Path] = field(default_factory=list)
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
    references: dict[ObjectId, list[ObjectId]] = {}

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
            refs = codec.references(obj.payload)
            if obj.parent is not None:
                refs.append(obj.parent)
            references[oid] = refs

    for oid in store.iter_loose_object_ids():
        path = store.loose_path(oid)
        with contextlib.suppress(FileNotFoundError):
            check(oid, read_bytes(path), str(path))

    for name in sorted(os.listdir(store.pack_dir)):
        path = store.pack_dir / name
        if is_tmp(name):
            continue
        if name.endswith(tables.SUFFIX):
            _check_pack(store, path, check, report)

    for uid, oid in store.iter_refs():
        report.refs += 1
        if oid not in kinds:
            if not _present(store, oid):
                report.errors.append(f"ref {uid} points at missing object {oid}")
            continue
        try:
            head = store.get(oid)
        except StoreError:
            continue  # already reported as corrupt
        if head.kind != "record" or head.uid != uid:
            report.errors.append(f"ref {uid} points at {oid}, not one of its revisions")
            continue
        _check_chain(store, uid, head, report)

    reachable = _reachable(store, references)
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
    offsets, lengths = table.columns["offset"], table.columns["length"]
    for row in range(len(table)):
        start, length = int(offsets[row]), int(lengths[row])
        oid = ObjectId(table.key(row))
        check(oid, data[start : start + length], f"pack {pack_path.name} at {start}")


def _check_chain(store: DiskStore, uid, head, report: FsckReport) -> None:
    seen = set()
    obj = head
    while obj.parent is not None:
        if obj.parent in seen:
            report.errors.append(f"record {uid}: revision chain loops at {obj.parent}")
            return
        seen.add(obj.parent)
        try:
            obj = store.get(obj.parent)
        except ObjectNotFoundError:
            report.errors.append(
                f"record {uid}: revision {obj.oid} has missing parent {obj.parent}"
            )
            return
        except StoreError:
            return


def _reachable(store: DiskStore, references: dict) -> set[ObjectId]:
    stack = [oid for _uid, oid in store.iter_refs()]
    reachable: set[ObjectId] = set()
    while stack:
        oid = stack.pop()
        if oid in reachable:
            continue
        reachable.add(oid)
        stack.extend(references.get(oid, ()))
    return reachable
