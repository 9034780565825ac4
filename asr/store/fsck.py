"""`asr fsck`: read every file of `.asr/` and say what each damage costs.

Errors (exit non-zero): a corrupt object, table, commit log, ref or
materialised copy; a ref that points at a missing or wrong object or is
behind a revision of its own record; a Record whose ref is gone; a
revision chain with a missing parent. Notes (exit zero): unreachable
objects (a writer killed between object and ref), temporary files of
killed writers, frames torn off the end of a commit log that is not sealed
(a writer killed while appending: never acknowledged).

`repair=True` salvages (`salvage.py`): it never stops at the first error,
rebuilds what can be derived and moves what cannot be trusted into
`.asr/damaged/`.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, log, tables
from .errors import DecodeError, ObjectNotFoundError, StoreError, StoreWarning
from .files import is_tmp, listdir, read_bytes
from .ids import ObjectId, Uid, hash_bytes
from .maintenance import COMMITTED, TOMBSTONE, Maintained
from .objects import decode_object, encode_object
from .pack import PACK_MAGIC, tmp_files

_OBJECT_ID_MARK = bytes([0xD8, codec.EXT_OBJECT_ID])
# What each folder of tables holds, to say what a damaged one costs.
TABLE_FOLDERS = {
    "objects/pack": "pack index",
    "refs/packed": "packed-refs table",
    "refs/batch": "batch-refs table",
    "index/packed": "index segment",
}
SEEN_PREFIX = ".seen-"  # beside a materialised copy: its size and mtime


@dataclass
class Damage:
    """One damaged file: what is wrong and what it costs."""

    path: Path
    kind: str  # "object", "table", "pack", "log", "ref", "copy", "mark"
    message: str


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    errors: list[str] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)  # files to move aside
    unreachable: list[ObjectId] = field(default_factory=list)
    tmp_files: list[Path] = field(default_factory=list)
    torn_logs: list[Path] = field(default_factory=list)
    ahead: list[tuple[Uid, ObjectId]] = field(default_factory=list)  # notes
    behind: dict[Uid, ObjectId] = field(default_factory=dict)  # uid -> its ref
    lost_refs: list[Uid] = field(default_factory=list)
    missing_from_index: list[Uid] = field(default_factory=list)
    tableless_packs: list[Path] = field(default_factory=list)  # notes
    missing_refs_tables: list[Path] = field(default_factory=list)  # committed
    repaired: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def damage(self, path: Path, kind: str, message: str) -> None:
        self.damaged.append(Damage(Path(path), kind, message))
        self.errors.append(message)


@dataclass
class _Seen:
    """What the objects hold, gathered in one pass over every copy."""

    kinds: dict[ObjectId, str] = field(default_factory=dict)
    headers: dict[ObjectId, tuple] = field(default_factory=dict)  # (uid, parent)
    exact: dict[ObjectId, bytes] = field(default_factory=dict)  # record -> index key
    references: dict[ObjectId, list[ObjectId]] = field(default_factory=dict)
    where: dict[ObjectId, Path] = field(default_factory=dict)  # record -> file


def fsck(
    store: Maintained,
    repair: bool = False,
    progress: Callable[[int], None] | None = None,
) -> FsckReport:
    """Check the whole store; see the module docstring for what counts."""
    report = FsckReport()
    seen = _Seen()

    def check(oid: ObjectId, data: bytes, where: str, path: Path) -> bool:
        report.objects += 1
        if progress:
            progress(1)
        actual = hash_bytes(data)
        if actual != oid:
            report.errors.append(
                f"corrupt object {oid} in {where}: expected hash {oid}, actual {actual}"
            )
            return False
        try:
            obj = decode_object(oid, data, where)
        except (DecodeError, StoreError) as err:
            report.errors.append(f"undecodable object {oid} in {where}: {err}")
            return False
        seen.kinds[oid] = obj.kind
        if obj.kind == "record":
            seen.headers[oid] = (obj.uid, obj.parent)
            seen.where[oid] = path
            index = obj.header.get("index")
            if index is not None:
                seen.exact[oid] = index["exact"]
            # An object id anywhere inside is stored as these two bytes and its
            # 16 raw ones (fixext 16, type 4): without them, no need to look.
            has_ids = _OBJECT_ID_MARK in data
            refs = codec.references(obj.payload) if has_ids else []
            if obj.parent is not None:
                refs.append(obj.parent)
            if refs:
                seen.references[oid] = refs
        return True

    for oid in store.iter_loose_files():
        path = store.loose_path(oid)
        with contextlib.suppress(FileNotFoundError):
            if not check(oid, read_bytes(path), str(path), path):
                report.damaged.append(Damage(path, "object", f"corrupt object {oid}"))

    _check_logs(store, check, report)
    _check_tables(store, check, report)
    # Damaged tables are left out of what readers see, so every other ref
    # and object is still checked (and the cost of the damage is counted).
    with store.skipping_damaged_tables():
        heads = _check_refs(store, seen, report)
        _check_index(store, heads, seen.exact, report)
    _check_copies(store, report)
    report.tmp_files = tmp_files(store)
    if repair:
        from .salvage import salvage

        salvage(store, report)
    return report


def _check_logs(store: Maintained, check, report: FsckReport) -> None:
    paths = store.log_paths()
    contents = log.read_logs(paths)
    bad: set[Path] = set()
    for path, frame, data in contents.frames:
        if frame.oid is not None:
            where = f"log {path} at {frame.data_offset}"
            if not check(frame.oid, data, where, path):
                bad.add(path)
    for path, offset in contents.damaged:
        report.errors.append(
            f"damaged frame in commit log {path} at {offset}: the rest is unread"
        )
        bad.add(path)
    for path, offset in contents.torn:
        if path.name.endswith(log.SEALED):  # its writer closed it: not torn
            report.errors.append(
                f"damaged end of sealed commit log {path} at {offset}: the Records"
                " committed there are unread"
            )
            bad.add(path)
        else:
            report.torn_logs.append(path)
    for path in paths:
        # A writer zero-fills its log in whole chunks: any other size was cut.
        with contextlib.suppress(FileNotFoundError):
            if path not in bad and os.stat(path).st_size % log.FIRST_CHUNK:
                report.errors.append(f"commit log {path} was truncated")
                bad.add(path)
    for path in sorted(bad):
        report.damaged.append(Damage(path, "log", f"damaged commit log {path}"))


def _check_tables(store: Maintained, check, report: FsckReport) -> None:
    """Every table file, and every pack with the objects its table lists."""
    named_packs = set()
    for folder, what in TABLE_FOLDERS.items():
        for name in sorted(tables.names_in(store.root / folder)):
            path = store.root / folder / name
            try:
                table = tables.load(path)
            except FileNotFoundError:
                continue
            except (StoreError, ValueError, KeyError, TypeError) as err:
                report.damage(path, "table", f"corrupt {what} {path}: {err}")
                continue
            if folder == "objects/pack":
                named_packs.add(table.meta.get("pack"))
                _check_pack(store, path, table, check, report)
    _check_committed_marks(store, report)
    for name in sorted(listdir(store.pack_dir)):
        if name.endswith(".pack") and not is_tmp(name) and name not in named_packs:
            # A writer killed between a pack and its table (the commit point)
            # leaves one: harmless, nothing names its objects. A lost table
            # shows as missing objects below; either way repair indexes it.
            path = store.pack_dir / name
            report.damaged.append(Damage(path, "pack", f"pack {path} has no table"))
            report.tableless_packs.append(path)


def _check_committed_marks(store: Maintained, report: FsckReport) -> None:
    """A committed packed-refs table must be there (rule 5 of `maintenance`).

    Its mark is removed before it, so a mark seen after its table was found
    missing means the table was lost (a gc merging it meanwhile would have
    removed the mark first).
    """
    folder = store.refs_dir / "packed"
    for name in sorted(listdir(folder)):
        if not name.endswith(COMMITTED) or is_tmp(name):
            continue
        mark = folder / name
        table = folder / (name.removesuffix(COMMITTED) + tables.SUFFIX)
        if not table.exists() and mark.exists():
            report.missing_refs_tables.append(table)
            report.damaged.append(Damage(mark, "mark", f"{table} is missing"))


def _check_pack(store, table_path: Path, table, check, report: FsckReport) -> None:
    pack_path = store.pack_dir / table.meta["pack"]
    try:
        data = read_bytes(pack_path)
    except FileNotFoundError:
        report.damage(
            table_path,
            "table",
            f"pack {pack_path} of {table_path.name} is missing: its"
            f" {len(table)} objects are lost",
        )
        return
    if not data.startswith(PACK_MAGIC):
        report.errors.append(f"pack {pack_path} has a bad header")
    offsets = table.columns["offset"].tolist()
    lengths = table.columns["length"].tolist()
    ids = table.keys.tobytes().hex()  # S16 rows: 16 bytes each, zeros kept
    good = True
    for row, (start, length) in enumerate(zip(offsets, lengths)):
        oid = ObjectId(ids[32 * row : 32 * row + 32])
        where = f"pack {pack_path.name} at {start}"
        good &= check(oid, data[start : start + length], where, pack_path)
    if not good or not data.startswith(PACK_MAGIC):
        report.damaged.append(Damage(pack_path, "pack", f"damaged pack {pack_path}"))


def _check_refs(store: Maintained, seen: _Seen, report: FsckReport) -> dict:
    """Check every ref; returns {uid: head} of those that are sound."""
    kinds, headers = seen.kinds, seen.headers
    tombstones = set()
    for hexid, text in store.loose_ref_texts():
        if text == TOMBSTONE:
            tombstones.add(hexid)
    heads: list[ObjectId] = []
    head_of: dict[Uid, ObjectId] = {}

    bad_ref = report.errors.append  # salvage reads the loose refs again
    try:
        with warnings.catch_warnings(record=True) as heard:
            warnings.simplefilter("always", StoreWarning)
            refs = list(store.iter_refs(on_error=bad_ref))
    except StoreError as err:
        report.errors.append(f"refs cannot be listed: {err}")
        refs = []
    for warning in heard:  # a ref read from a revision chain: its file is lost
        report.errors.append(str(warning.message))
        uid = Uid(str(warning.message).split()[3])
        report.behind[uid] = dict(refs).get(uid)
    for uid, oid in refs:
        report.refs += 1
        if oid not in kinds:  # missing, or corrupt and reported as such
            if not _present(store, oid):
                bad_ref(f"ref {uid} points at missing object {oid}")
                report.behind[uid] = oid
            continue
        # Every object was decoded above: use what was seen, read nothing twice.
        if kinds[oid] != "record" or headers[oid][0] != uid:
            bad_ref(f"ref {uid} points at {oid}, not one of its revisions")
            report.behind[uid] = oid
            continue
        heads.append(oid)
        head_of[uid] = oid
        _check_chain(store, uid, oid, headers, report)

    # A head is a revision no other revision of its record names as parent.
    children: dict[ObjectId, list[ObjectId]] = {}
    for oid, (uid, parent) in headers.items():
        if parent is not None and headers.get(parent, (None,))[0] == uid:
            children.setdefault(parent, []).append(oid)
    for uid, head in head_of.items():
        newer = children.get(head, [])
        sealed = [c for c in newer if seen.where[c].name.endswith(log.SEALED)]
        if sealed:  # its writer finished: the ref moved there, and was lost
            report.errors.append(
                f"ref {uid} is behind: revision {sealed[0]} names its head {head}"
                " as parent (a lost loose ref)"
            )
            report.behind[uid] = head
        elif newer:  # a writer stopped before its ref moved
            report.ahead += [(uid, child) for child in newer]
    lost = {
        uid
        for uid, _parent in headers.values()
        if uid not in head_of and uid not in tombstones
    }
    lost -= set(report.behind)
    # A note, not an error: refs are the commit point, so a writer or a
    # transfer killed before its refs moved leaves the same picture as a
    # deleted refs table. Either way `--repair` re-attaches them.
    report.lost_refs = sorted(lost)
    for table in report.missing_refs_tables:  # committed, so damage: say the cost
        report.errors.append(
            f"packed-refs table {table} is missing (it was committed): the"
            f" {len(lost)} records without a ref lost theirs with it"
            " (`asr fsck --repair` re-attaches them)"
        )

    reachable = _reachable(heads, seen.references)
    report.unreachable = sorted(
        oid
        for oid in kinds
        if oid not in reachable and headers.get(oid, ("",))[0] not in lost
    )
    for oid, refs in seen.references.items():
        if oid in reachable:
            for target in refs:
                if target not in kinds and not _present(store, target):
                    report.errors.append(f"object {oid} refers to missing {target}")
    return head_of


def _check_index(
    store: Maintained, heads: dict, exact: dict[ObjectId, bytes], report: FsckReport
) -> None:
    """Every sound head's exact key finds it: else lookups miss and
    recompute. (The keys were read in the pass over every object.)"""
    try:
        store.refresh()
        pairs = [(exact[oid], uid) for uid, oid in heads.items() if oid in exact]
        missing = store.index_lacks(pairs)
    except StoreError as err:
        report.errors.append(f"the index cannot be read: {err}")
        return
    if missing:
        report.errors.append(
            f"{len(missing)} records are missing from the index (lookups miss"
            " them and compute them again)"
        )
    report.missing_from_index = missing


def _check_copies(store: Maintained, report: FsckReport) -> None:
    """Materialised copies (`files/<blob>/<name>`): each must hold its blob."""
    folder = store.root / "files"
    for blob in sorted(listdir(folder)):
        for name in sorted(listdir(folder / blob)):
            path = folder / blob / name
            if name.startswith(SEEN_PREFIX) or is_tmp(name) or not path.is_file():
                continue
            if blob_id(read_bytes(path)) != blob:
                report.damage(
                    path,
                    "copy",
                    f"materialised copy {path} does not hold blob {blob}",
                )


def blob_id(content: bytes) -> ObjectId:
    """The id of the blob holding `content`."""
    return encode_object("blob", {}, bytes(content))[0]


def _present(store: Maintained, oid: ObjectId) -> bool:
    """Is the object there? Unknown behind a corrupt pack index, which is
    reported on its own: then say yes rather than report it missing too."""
    try:
        return store.has(oid)
    except StoreError:
        return True


def _check_chain(store: Maintained, uid, head, headers: dict, report: FsckReport):
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
