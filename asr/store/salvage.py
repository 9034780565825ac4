"""`asr fsck --repair`: salvage a damaged store, never stopping at an error.

Derived data is rebuilt: pack tables from their packs, refs from the
records' uids and revision chains (a head is a revision no other revision
of its record names as parent), the index from the heads, materialised
copies from their blobs. Verified objects in a damaged pack or commit log
are copied into a new pack. Whatever cannot be trusted is moved into
`.asr/damaged/` (never deleted), and the report says what was recovered and
what is lost for good.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import msgpack

from . import log, tables
from .errors import StoreError, StoreWarning
from .files import read_bytes, write_atomic
from .ids import ObjectId, Uid, hash_bytes
from .maintenance import TOMBSTONE, Maintained
from .objects import decode_object
from .pack import (
    PACK_MAGIC,
    committed_mark,
    rebuild_index,
    remove_tmp_files,
    write_pack,
    write_packed_refs,
)

DAMAGED = "damaged"


def move_aside(store: Maintained, path: Path) -> Path:
    """Move `path` into `.asr/damaged/` under its path in the store."""
    target = store.root / DAMAGED / Path(path).relative_to(store.root)
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    while target.exists():
        n += 1
        target = target.with_name(f"{target.name.split('~')[0]}~{n}")
    os.replace(path, target)
    return target


def salvage(store: Maintained, report) -> None:
    """Repair what `report` (from `fsck`) found; see the module docstring."""
    said = report.repaired.append
    removed = remove_tmp_files(store)
    said_removed = [f"removed {p}" for p in removed]
    report.repaired += said_removed
    report.tmp_files = [p for p in report.tmp_files if p not in removed]

    moved: set[Path] = set()
    for damage in report.damaged:
        path = damage.path
        if path in moved or not path.exists():
            continue
        if damage.kind in ("pack", "log") or (
            damage.kind == "table" and path.parent == store.pack_dir
        ):
            _salvage_objects(store, damage, report, moved)
        elif damage.kind == "copy":
            continue  # below, once the objects are back
        else:  # a corrupt object, a refs table, an index segment, a mark
            said(f"moved {path} to {move_aside(store, path)}")
            moved.add(path)
            mark = committed_mark(path)
            if path.parent == store.refs_dir / "packed" and mark.exists():
                said(f"moved {mark} to {move_aside(store, mark)}")  # its table's
    _salvage_loose_refs(store, report)
    store.refresh()
    _reattach_refs(store, report)
    store.refresh()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            count = rebuild_index(store)
        said(f"rebuilt the index of {count} records")
    except StoreError as err:  # still damaged: say so, do the rest
        report.lost.append(f"the index could not be rebuilt: {err}")
    for damage in report.damaged:
        if damage.kind == "copy" and damage.path.exists():
            _rematerialise(store, damage.path, report)
    store.refresh()


def _salvage_objects(store: Maintained, damage, report, moved: set[Path]) -> None:
    """Copy the verified objects of a damaged pack or log into a new pack,
    then move the damaged files aside."""
    path = damage.path
    files = [path]
    if damage.kind == "log":
        contents = log.read_logs([path])
        items = [
            (frame.oid, data)
            for _path, frame, data in contents.frames
            if frame.oid is not None and hash_bytes(data) == frame.oid
        ]
        total = None
    else:
        pack_path, table_path = _pack_and_table(store, path)
        files = [p for p in (table_path, pack_path) if p is not None and p.exists()]
        items, total = _read_pack(pack_path) if pack_path is not None else ([], None)
    for file in files:  # first: the new pack may have the old one's name
        if file not in moved:
            report.repaired.append(f"moved {file} to {move_aside(store, file)}")
            moved.add(file)
    if items:
        write_pack(store, items)
    what = f"{len(items)} verified objects"
    report.repaired.append(f"recovered {what} from {path} into a new pack")
    if total is not None and total > len(items):
        report.lost.append(f"{total - len(items)} objects of {path} are unreadable")
    if damage.kind == "log" and contents.damaged:
        report.lost.append(f"the frames of {path} after its damage are unreadable")


def _pack_and_table(store: Maintained, path: Path) -> tuple[Path | None, Path | None]:
    """The pack file and its table, from either (a table may be unreadable)."""
    if path.suffix == ".pack":
        for name in os.listdir(store.pack_dir):
            if name.endswith(tables.SUFFIX):
                with contextlib.suppress(StoreError, ValueError, KeyError, OSError):
                    if tables.load(store.pack_dir / name).meta["pack"] == path.name:
                        return path, store.pack_dir / name
        return path, None
    try:
        pack = store.pack_dir / tables.load(path).meta["pack"]
    except (StoreError, ValueError, KeyError, TypeError):
        return _orphan_pack(store), path
    return pack, path


def _orphan_pack(store: Maintained) -> Path | None:
    """The pack no readable table names (that of an unreadable table)."""
    named = set()
    for name in os.listdir(store.pack_dir):
        if name.endswith(tables.SUFFIX):
            with contextlib.suppress(StoreError, ValueError, KeyError, OSError):
                named.add(tables.load(store.pack_dir / name).meta["pack"])
    orphans = [n for n in os.listdir(store.pack_dir) if n.endswith(".pack")]
    orphans = [n for n in orphans if n not in named]
    return store.pack_dir / orphans[0] if len(orphans) == 1 else None


def _read_pack(path: Path) -> tuple[list[tuple[ObjectId, bytes]], int]:
    """The verified objects of a pack, read without its table: objects are
    msgpack values back to back, so each one's end is where it stops."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return [], 0
    items, total, pos = [], 0, len(PACK_MAGIC)
    while pos < len(data):
        unpacker = msgpack.Unpacker(raw=True, strict_map_key=False)
        unpacker.feed(data[pos:])
        try:
            unpacker.skip()
        except Exception:  # garbage from here on: resynchronise on the next object
            nxt = data.find(b"\x95\xa3asr", pos + 1)
            if nxt < 0:
                break
            total += 1
            pos = nxt
            continue
        end = pos + unpacker.tell()
        chunk = data[pos:end]
        total += 1
        oid = hash_bytes(chunk)
        try:
            decode_object(oid, chunk)
            items.append((oid, chunk))
        except StoreError:
            pass
        nxt = data.find(b"\x95\xa3asr", end)
        pos = end if nxt == end or nxt < 0 else nxt
        if nxt < 0:
            break
    return items, total


def _salvage_loose_refs(store: Maintained, report) -> None:
    """Move aside each loose ref that cannot be read: the ref is then
    rebuilt from the revision chains."""
    for hexid, text in list(store.loose_ref_texts()):
        # A ref whose revision is missing or corrupt stays: the revision
        # before it is not the Record, and a copy may yet turn up.
        try:
            store.parse_ref(hexid, text)
            good = True
        except StoreError:
            good = False
        if not good:
            path = store.loose_ref_path(hexid)
            report.repaired.append(f"moved {path} to {move_aside(store, path)}")
            report.behind.setdefault(Uid(hexid), None)


def _reattach_refs(store: Maintained, report) -> None:
    """Point every record at its newest revision where its ref is missing,
    unreadable or behind (a head is a revision no other names as parent)."""
    headers: dict[ObjectId, tuple[Uid, ObjectId | None]] = {}
    for oid in list(store.iter_object_ids()):
        try:
            obj = store.get(oid)
        except StoreError:
            continue
        if obj.kind == "record":
            headers[oid] = (obj.uid, obj.parent)
    children: dict[ObjectId, list[ObjectId]] = {}
    revisions: dict[Uid, list[ObjectId]] = {}
    for oid, (uid, parent) in headers.items():
        revisions.setdefault(uid, []).append(oid)
        if parent is not None and headers.get(parent, (None,))[0] == uid:
            children.setdefault(parent, []).append(oid)
    tombstones = {h for h, text in store.loose_ref_texts() if text == TOMBSTONE}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        current = dict(store.iter_refs(on_error=lambda _message: None))
    suspect = set(report.behind) | set(report.lost_refs)
    packed: dict[Uid, ObjectId] = {}
    for uid, oids in revisions.items():
        if uid in tombstones:
            continue
        ref = current.get(uid)
        good = ref in headers and headers[ref][0] == uid
        if good and uid not in suspect:
            continue
        start = [ref] if good else [o for o in oids if headers[o][1] not in headers]
        head = _newest(start or oids, children, headers)
        if head is None:
            report.lost.append(f"record {uid}: its newest revision cannot be told")
            continue
        if good:  # written even if read right: it may have been read from a chain
            store.set_ref(uid, head, expected=ref)
            report.repaired.append(f"set ref {uid} to its newest revision {head}")
        else:
            packed[uid] = head
    if packed:
        write_packed_refs(store, packed)
        report.repaired.append(
            f"re-attached {len(packed)} records to their newest revisions"
        )


def _newest(starts, children, headers) -> ObjectId | None:
    """The leaf at the end of the longest revision chain from `starts`."""
    best: list[tuple[int, ObjectId]] = []
    stack = [(oid, 0) for oid in starts]
    seen = set()
    while stack:
        oid, depth = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        below = children.get(oid, [])
        if not below:
            best.append((depth, oid))
        stack += [(child, depth + 1) for child in below]
    if not best:
        return None
    best.sort()
    if len(best) > 1 and best[-1][0] == best[-2][0]:
        return None  # two chains as long: which is newer is not known
    return best[-1][1]


def _rematerialise(store: Maintained, path: Path, report) -> None:
    blob = path.parent.name
    report.repaired.append(f"moved {path} to {move_aside(store, path)}")
    seen = path.with_name(".seen-" + path.name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(seen)
    try:
        write_atomic(path, store.get_blob(blob), durable=False)
    except StoreError as err:
        report.lost.append(f"{path} cannot be made again: {err}")
        return
    report.repaired.append(f"made {path} again from blob {blob}")
