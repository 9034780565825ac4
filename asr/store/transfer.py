"""Moving objects and refs between stores: negotiation, pack streams, refs.

Bytes and ids only: which Records to send is decided above (asr.core), as a
dict of heads. The rules that make a transfer safe to kill at any moment:

* **Only what the other side lacks travels.** The receiver is asked which
  of the wanted heads it lacks, then which of their references, layer by
  layer (`missing_closure`); an object it has is not followed, since
  everything it refers to is there too (see the next rule).
* **Dependencies first.** Objects travel in post-order (a blob and a
  parent before the record that names them) and are written in that order,
  one pack after another, so any object a store holds has its whole
  closure: what a killed transfer left behind is complete as far as it goes.
* **Every object is verified before any ref moves.** The receiver re-hashes
  and decodes each one as it arrives; a short, cut or corrupt stream raises
  `TransferError` and no ref moves. The packs already written are whole,
  hold no ref, and make a rerun send less.
* **Refs move by compare-and-swap along revision chains** (`apply_heads`):
  a new uid is created, a head whose chain contains ours fast-forwards, a
  head behind ours is left, and two heads neither of which contains the
  other are a divergence: reported, never resolved silently.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from . import codec, mirror, progress
from .errors import ObjectNotFoundError, RefConflictError, StoreError
from .ids import ObjectId, Uid, digest, hash_bytes
from .objects import StoredObject, decode_object, record_header

BUNDLE_MAGIC = b"ASRBUNDLE1\n"
STREAM_FORMAT = 1
PACK_BYTES = 64 << 20  # a receiver writes a pack at least this often
_OBJECT_ID_MARK = bytes([0xD8, codec.EXT_OBJECT_ID])

Heads = dict[Uid, ObjectId]


class TransferError(StoreError):
    """A stream ended early or held bytes that are not what it promised."""


# -- frames ----------------------------------------------------------------


def write_frame(out: BinaryIO, data: bytes) -> None:
    """One frame: its length (u64, little-endian), a check of the length
    and one of the bytes (8 bytes of xxh3-128 each), then the bytes. A
    damaged length is caught before the reader waits for bytes that never
    come; a damaged body before it is decoded."""
    size = struct.pack("<Q", len(data))
    out.write(size + digest(size)[:8] + digest(data)[:8])
    out.write(data)


def read_frame(inp: BinaryIO) -> bytes:
    """The next frame; `TransferError` if it is damaged or cut short."""
    header = _read_exact(inp, 24)
    size = header[:8]
    if digest(size)[:8] != header[8:16]:
        raise TransferError("damaged stream: a frame's length fails its check")
    data = _read_exact(inp, struct.unpack("<Q", size)[0])
    if digest(data)[:8] != header[16:]:
        raise TransferError("damaged stream: a frame fails its check")
    return data


def _read_exact(inp: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = inp.read(min(left, 1 << 24))
        if not chunk:
            raise TransferError("the stream ended early (the other side stopped?)")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_message(out: BinaryIO, value: object) -> None:
    write_frame(out, codec.encode(value))


def read_message(inp: BinaryIO) -> object:
    try:
        return codec.decode(read_frame(inp))
    except (ValueError, TypeError) as err:
        raise TransferError(f"damaged stream: {err}") from None


# -- what objects point at ---------------------------------------------------


def object_references(data: bytes) -> list[ObjectId]:
    """The ids an object's verified bytes name: its parent and every id in
    its payload (File blobs, dependencies), as `fsck` follows them."""
    if _OBJECT_ID_MARK not in data:  # no id anywhere, not even a parent
        return []
    obj = decode_object(hash_bytes(data), data)
    found = codec.references(obj.payload)
    if obj.kind == "record" and obj.parent is not None:
        found.append(ObjectId(obj.parent))
    return found


def missing_closure(
    heads: Iterable[ObjectId],
    references: Callable[[list[ObjectId]], dict[ObjectId, list[ObjectId]]],
    lacks: Callable[[list[ObjectId]], list[ObjectId]],
) -> list[ObjectId]:
    """The objects the receiver lacks among `heads` and all they reach,
    dependencies first. `references` asks the sender what a layer of ids
    points at, `lacks` asks the receiver which ids it does not have: one
    round trip each per layer of the graph."""
    edges: dict[ObjectId, list[ObjectId]] = {}
    frontier = lacks(list(dict.fromkeys(heads)))
    roots = list(frontier)
    while frontier:
        found = references(frontier)
        edges.update(found)
        children = {c for ids in found.values() for c in ids if c not in edges}
        frontier = lacks(sorted(children)) if children else []
    return _post_order(roots, edges)


def _post_order(roots: list[ObjectId], edges: dict) -> list[ObjectId]:
    order: list[ObjectId] = []
    done: set[ObjectId] = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            oid, expanded = stack.pop()
            if oid in done:
                continue
            if expanded:
                done.add(oid)
                order.append(oid)
                continue
            stack.append((oid, True))
            stack.extend((c, False) for c in edges.get(oid, ()) if c in edges)
    return order


# -- one side of a transfer --------------------------------------------------


class Endpoint:
    """A store as one side of a transfer: what a peer may ask of it."""

    def __init__(self, store, select: Callable | None = None):
        self.store = store
        self._select = select  # (store, words) -> heads; from asr.core

    def heads(self, selection: list[str] | None = None, uids=None) -> Heads:
        """Heads of the selected Records (all without a selection), or of
        `uids` (those this store has)."""
        if uids is not None:
            found = {Uid(u): self.store.get_ref(u) for u in uids}
            return {u: o for u, o in found.items() if o is not None}
        if selection:
            if self._select is None:
                raise StoreError("this side cannot evaluate a selection")
            return dict(self._select(self.store, selection))
        return dict(self.store.iter_refs())

    def references(self, ids: list[ObjectId]) -> dict[ObjectId, list[ObjectId]]:
        get = self.store.get_bytes  # verified; decoded only if it names ids
        return {ObjectId(o): object_references(get(o)) for o in ids}

    def lacks(self, ids: list[ObjectId]) -> list[ObjectId]:
        return [ObjectId(o) for o in ids if not self.store.has(o)]

    def objects(self, ids: list[ObjectId]) -> Iterator[bytes]:
        for oid in ids:
            yield self.store.get_bytes(oid)  # verified here, decoded there

    def receive(self, objects: Iterable[bytes]) -> int:
        return receive_objects(self.store, objects)

    def mirror(self, have: list[str], raw: bool = False) -> Iterator[mirror.Item]:
        """This store's packs (all but those in `have`) and tables, whole."""
        return mirror.mirror_items(self.store, have, raw)

    def apply(self, heads: Heads, leases: Heads | None = None) -> RefOutcome:
        return apply_heads(self.store, heads, leases)


def receive_objects(store, objects: Iterable[bytes]) -> int:
    """Verify each object and write them, in the order given, into packs
    (loose objects for a store without packs). Returns how many arrived.
    Raises `TransferError` on the first that is not what it claims."""
    from .disk import DiskStore

    batch: list[tuple[ObjectId, bytes]] = []
    size = count = 0
    for data in objects:
        oid = hash_bytes(data)
        try:
            decode_object(oid, data, "transfer")
        except StoreError as err:
            raise TransferError(f"a damaged object arrived: {err}") from None
        batch.append((oid, bytes(data)))
        size += len(data)
        count += 1
        if size >= PACK_BYTES:
            _write(store, batch, DiskStore)
            batch, size = [], 0
    _write(store, batch, DiskStore)
    return count


def _write(store, batch: list[tuple[ObjectId, bytes]], disk_type) -> None:
    if not batch:
        return
    if isinstance(store, disk_type):
        from .pack import write_pack

        write_pack(store, batch)  # committed when its table is in place
        store.refresh()
    else:
        for oid, data in batch:
            store._add_raw(oid, data)


def read_objects(inp: BinaryIO) -> Iterator[bytes]:
    """The objects of a pack stream: a header frame with their count, the
    objects, an end frame with the count again."""
    header = read_message(inp)
    if not isinstance(header, dict) or header.get("format") != STREAM_FORMAT:
        raise TransferError("not an ASR pack stream (or a newer format)")
    count = header["objects"]
    for _ in range(count):
        yield read_frame(inp)
    end = read_message(inp)
    if end != {"end": count}:
        raise TransferError("damaged stream: its end does not match its start")


def write_objects(out: BinaryIO, objects: Iterable[bytes], count: int) -> None:
    write_message(out, {"format": STREAM_FORMAT, "objects": count})
    sent = 0
    for data in objects:
        write_frame(out, data)
        sent += 1
    if sent != count:
        raise TransferError(f"sent {sent} objects, not {count}")
    write_message(out, {"end": count})


# -- refs --------------------------------------------------------------------


@dataclass
class RefOutcome:
    """What `apply_heads` did with each incoming head."""

    created: list[Uid] = field(default_factory=list)
    forwarded: list[Uid] = field(default_factory=list)
    replaced: list[Uid] = field(default_factory=list)  # by a lease (resolved)
    same: list[Uid] = field(default_factory=list)
    behind: list[Uid] = field(default_factory=list)  # ours already contains it
    diverged: list[Uid] = field(default_factory=list)
    conflicts: list[Uid] = field(default_factory=list)  # moved meanwhile

    def to_data(self) -> dict:
        return {k: [str(u) for u in v] for k, v in self.__dict__.items()}

    @classmethod
    def from_data(cls, data: dict) -> RefOutcome:
        return cls(**{k: [Uid(u) for u in v] for k, v in data.items()})

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in self.__dict__.items() if v]
        return ", ".join(parts) or "nothing to do"


def is_ancestor(store, old: ObjectId, new: ObjectId) -> bool:
    """Is `old` on the revision chain of `new` (or `new` itself)?"""
    oid: ObjectId | None = new
    seen: set[ObjectId] = set()
    while oid is not None and oid not in seen:
        if oid == old:
            return True
        seen.add(oid)
        if not store.has(oid):
            return False
        oid = store.get(oid).parent
    return False


def relation(store, ours: ObjectId | None, theirs: ObjectId) -> str:
    """new, same, forward (theirs contains ours), behind or diverged."""
    if ours is None:
        return "new"
    if ours == theirs:
        return "same"
    if is_ancestor(store, ours, theirs):
        return "forward"
    if is_ancestor(store, theirs, ours):
        return "behind"
    return "diverged"


def check_heads(store, heads: Heads) -> dict[Uid, StoredObject]:
    """Every head is here and is a revision of its uid, or `TransferError`.
    Returns the heads read."""
    found = {}
    for uid, oid in heads.items():
        try:
            obj = store.get(oid)
        except ObjectNotFoundError:
            raise TransferError(f"head {oid} of {uid} did not arrive") from None
        if obj.kind != "record" or obj.uid != uid:
            raise TransferError(f"{oid} is not a revision of {uid}")
        found[uid] = obj
    return found


def apply_heads(store, heads: Heads, leases: Heads | None = None) -> RefOutcome:
    """Move this store's refs to `heads` where that loses nothing.

    New uids are created (in one batch), refs whose chain `heads` extends
    fast-forward, refs ahead are left alone and diverged ones are listed,
    unless `leases` names the head we expect there: then that ref is
    replaced by compare-and-swap from exactly that head (a divergence the
    user resolved). Called only once every object has arrived.
    """
    heads = {Uid(u): ObjectId(o) for u, o in heads.items()}
    leases = {Uid(u): ObjectId(o) for u, o in (leases or {}).items()}
    objects = check_heads(store, heads)
    outcome = RefOutcome()
    new = []
    for uid, theirs in heads.items():
        ours = store.get_ref(uid)
        kind = relation(store, ours, theirs)
        if kind == "new":
            new.append((uid, theirs))
        elif kind == "same":
            outcome.same.append(uid)
        elif kind == "behind":
            outcome.behind.append(uid)
        elif kind == "forward" or leases.get(uid) == ours:
            try:
                store.set_ref(uid, theirs, ours)
            except RefConflictError:
                outcome.conflicts.append(uid)
                continue
            (outcome.forwarded if kind == "forward" else outcome.replaced).append(uid)
        else:
            outcome.diverged.append(uid)
    if new:
        _create_refs(store, [(uid, objects[uid]) for uid, _oid in new], outcome)
    return outcome


def _create_refs(store, new: list[tuple[Uid, StoredObject]], outcome) -> None:
    """Refs of uids this store did not have: in a `DiskStore`, one index
    segment and then one packed-refs table (the commit point), as a bulk
    import writes them; one by one elsewhere, and for a uid that has a
    tombstone (a loose ref hides a packed one)."""
    from .disk import DiskStore
    from .segments import index_segment

    batch = []
    for uid, obj in new:
        if isinstance(store, DiskStore) and not store.loose_ref_path(uid).exists():
            batch.append((uid, obj))
            continue
        try:
            store.set_ref(uid, obj.oid, None)
        except RefConflictError:
            outcome.conflicts.append(uid)
            continue
        outcome.created.append(uid)
    if batch:
        from . import tables
        from .pack import write_packed_refs

        exact, shape = [], []
        for uid, obj in batch:
            terms = obj.index
            if terms is not None:
                exact.append((terms.exact, uid))
                shape.append((terms.shape, uid, terms.floats))
        if exact:
            tables.save(index_segment(exact, shape), store.index_dir / "packed")
        write_packed_refs(store, {uid: obj.oid for uid, obj in batch})
        store.refresh()
        outcome.created += [uid for uid, _obj in batch]


def keep_both(store, uid: Uid, theirs: ObjectId) -> Uid:
    """Keep `theirs` beside our head of `uid`: a copy of it as a new
    Record (a new uid) whose parent is `theirs`, so `asr log` shows where
    it came from. Returns the new uid."""
    obj = store.get(theirs)
    new_uid = Uid.new()
    header = record_header(new_uid, obj.oid, obj.index)
    oid = store.put_object("record", header, obj.payload)
    store.set_ref(new_uid, oid, None)
    return new_uid


# -- bundles -----------------------------------------------------------------


def write_bundle(store, out: BinaryIO, heads: Heads) -> int:
    """A bundle: `BUNDLE_MAGIC`, the heads, then a pack stream of every
    object they reach (dependencies first). Returns the object count."""
    sender = Endpoint(store)
    ids = missing_closure(heads.values(), sender.references, lambda ids: list(ids))
    out.write(BUNDLE_MAGIC)
    write_message(out, {"heads": {str(u): o for u, o in heads.items()}})
    objects = sender.objects(ids)
    with progress.counting(objects, "Writing objects", len(ids)) as each:
        write_objects(out, each, len(ids))
    return len(ids)


def read_bundle(store, inp: BinaryIO) -> tuple[Heads, int]:
    """Verify and store a bundle's objects; returns its heads (no ref has
    moved yet) and how many objects it held."""
    if inp.read(len(BUNDLE_MAGIC)) != BUNDLE_MAGIC:
        raise TransferError("not an ASR bundle")
    message = read_message(inp)
    if not isinstance(message, dict) or not isinstance(message.get("heads"), dict):
        raise TransferError("damaged bundle: no heads")
    heads = {Uid(u): ObjectId(o) for u, o in message["heads"].items()}
    with progress.counting(read_objects(inp), "Reading objects", None) as each:
        count = receive_objects(store, each)
    if inp.read(1):
        raise TransferError("damaged bundle: bytes after its end")
    check_heads(store, heads)
    return heads, count
