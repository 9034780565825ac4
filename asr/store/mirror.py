"""A clone's fast path: a store's packs and tables copied whole.

A store that has no refs yet lacks everything a whole-store fetch would
send, so asking object by object what it lacks (`missing_closure`) only
costs time. Instead the sender streams its files as they are: the packed
refs tables and index segments (small, held in memory until the end), then
every pack, oldest first, each as its table and its bytes in large frames.
What is not in a pack (loose objects, commit logs, loose refs) is left to
the ordinary negotiation afterwards, which then finds little to do.

The promises of a transfer hold:

* **Every object is verified before any ref moves.** While a pack's bytes
  arrive, each object's slice is hashed and compared with its id in the
  pack's table (xxh3: a gigabyte in a few tenths of a second); a table is
  verified by its name, which is its hash. Each head a refs table names
  must be verified here (or already be in the store) and be a revision of
  its uid. Only then are the index segments and the refs tables renamed
  into place, refs last.
* **An object only after all it names.** Packs are committed (their table
  renamed into place, as `write_pack` does) one after another in the
  order the sender made them, so a killed clone leaves whole packs that are
  complete as far as they go, and no ref. A rerun is told which packs are
  here already and receives only the others.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgpack
import numpy as np
import xxhash

from . import codec, progress, tables
from .errors import StoreError
from .files import BackgroundWriter, _open_exclusive, _tmp_name, write_atomic
from .objects import decode_object

MIRROR_FORMAT = 1
# A pack travels in frames of this size: one stays in the CPU cache from the
# pipe through the hash to the write (frames of 8 MiB took 3-5 times the
# system time of a clone here, and half again its wall time over ssh).
CHUNK = 256 << 10
_PACK_NAME = re.compile(r"^[0-9a-f]{32}\.pack$")
_TABLE_NAME = re.compile(r"^[0-9a-f]{32}\.table$")
_PACK_MAGIC = b"ASRPACK1\n"  # as asr.store.pack writes it
_digest = xxhash.xxh3_128_digest  # asr.store.ids.digest, one call less


class MirrorError(StoreError):
    """A mirrored file is not what it claims to be."""


@dataclass
class Listing:
    """The tables of a store, by name: packs in the order they were made."""

    packs: list[str]
    refs: list[str]
    index: list[str]

    def to_data(self) -> dict:
        return {"packs": self.packs, "refs": self.refs, "index": self.index}


def _made_order(folder: Path, names: list[str]) -> list[str]:
    def made(name: str) -> tuple[int, str]:
        try:
            return os.stat(folder / name).st_mtime_ns, name
        except FileNotFoundError:
            return 0, name

    return sorted(names, key=made)


def listing(store) -> Listing:
    """The sender's packs (oldest first), packed refs and index segments."""
    return Listing(
        _made_order(store.pack_dir, tables.names_in(store.pack_dir)),
        sorted(tables.names_in(store.refs_dir / "packed")),
        sorted(tables.names_in(store.index_dir / "packed")),
    )


# -- the sender --------------------------------------------------------------

Item = tuple[str, object]  # ("message", value) or ("frame", bytes)


def mirror_items(store, have: list[str], raw: bool = False) -> Iterator[Item]:
    """The store's tables and the packs not named in `have`, as the stream
    says them: a message `{"format", "tables", "packs", "bytes", "raw"}`;
    each refs table and index segment as a message `{"kind", "name"}` and
    one frame; each pack as a message `{"kind": "pack", "name", "size"}`,
    its table in one frame and its bytes in frames of `CHUNK`, or with
    `raw` as they are, unframed (an item `("raw", (fd, size))`, which
    `write_mirror` hands the kernel to copy: the receiver verifies every
    byte by the objects' hashes anyway, and the sender then costs a third
    of the CPU); an end message `{"end"}`. A file that vanished meanwhile
    (merged by a `gc`) is left out: what it held comes by the ordinary
    negotiation."""
    found = listing(store)
    small = []
    for kind, folder, names in (
        ("index", store.index_dir / "packed", found.index),
        ("refs", store.refs_dir / "packed", found.refs),
    ):
        for name in names:
            try:
                small.append((kind, name, (folder / name).read_bytes()))
            except FileNotFoundError:
                continue
    packs = []
    try:
        for name in found.packs:
            if name in have:
                continue
            try:
                data = (store.pack_dir / name).read_bytes()
                fd = os.open(store.pack_dir / _pack_name(name, data), os.O_RDONLY)
            except (FileNotFoundError, MirrorError):
                continue
            packs.append((name, data, fd, os.fstat(fd).st_size))
        start = {"format": MIRROR_FORMAT, "tables": len(small), "packs": len(packs)}
        start["bytes"] = sum(size for *_, size in packs)
        start["raw"] = raw
        yield "message", start
        for kind, name, data in small:
            yield "message", {"kind": kind, "name": name}
            yield "frame", data
        for name, data, fd, left in packs:
            yield "message", {"kind": "pack", "name": name, "size": left}
            yield "frame", data
            if raw:
                yield "raw", (fd, left)
                continue
            while left:
                chunk = os.read(fd, min(CHUNK, left))
                if not chunk:
                    raise StoreError(f"the pack of {name} shrank while it was sent")
                yield "frame", chunk
                left -= len(chunk)
        yield "message", {"end": len(packs)}
    finally:
        for _name, _data, fd, _size in packs:
            os.close(fd)


def write_mirror(out: BinaryIO, items: Iterator[Item]) -> None:
    from .transfer import write_frame, write_message

    for kind, value in items:
        if kind == "message":
            write_message(out, value)
        elif kind == "frame":
            write_frame(out, value)
        else:
            out.flush()
            _send_file(out, *value)


def _send_file(out: BinaryIO, fd: int, size: int) -> None:
    """`size` bytes of `fd` from its start to `out`, copied by the kernel
    (sendfile) where it can: no read into this process, no write from it."""
    offset = 0
    with contextlib.suppress(OSError, AttributeError, ValueError):
        target = out.fileno()
        while offset < size:
            sent = os.sendfile(target, fd, offset, size - offset)
            if sent == 0:
                break
            offset += sent
    while offset < size:  # not a file (a test's BytesIO), or no sendfile here
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        if not chunk:
            raise StoreError("a pack shrank while it was sent")
        out.write(chunk)
        offset += len(chunk)
    out.flush()


class WireSource:
    """The receiving end of a mirror stream read from a pipe."""

    def __init__(self, inp: BinaryIO):
        self.inp = inp

    def message(self):
        from .transfer import read_message

        return read_message(self.inp)

    def frame(self) -> bytes:
        from .transfer import read_frame

        return read_frame(self.inp)

    def raw(self, size: int) -> Iterator[bytes]:
        """`size` unframed bytes, in chunks of `CHUNK`."""
        from .transfer import _read_exact

        while size > 0:
            chunk = _read_exact(self.inp, min(CHUNK, size))
            size -= len(chunk)
            yield chunk


class LocalSource:
    """The receiving end of a mirror in this process: no bytes copied."""

    def __init__(self, items: Iterator[Item]):
        self.items = items

    def _next(self, kind: str):
        from .transfer import TransferError

        got = next(self.items, None)
        if got is None or got[0] != kind:
            raise TransferError(f"the mirror stream is out of step ({kind} expected)")
        return got[1]

    def message(self):
        return self._next("message")

    def frame(self) -> bytes:
        return self._next("frame")


def _pack_name(table_name: str, data: bytes) -> str:
    """The pack a table indexes (verified: the table's name is its hash)."""
    obj = decode_object(table_name[: -len(tables.SUFFIX)], data, "mirror")
    pack = obj.header["meta"].get("pack", "")
    if obj.header["type"] != "pack" or not _PACK_NAME.match(pack):
        raise MirrorError(f"{table_name} is not a pack's table")
    return pack


# -- the receiver ------------------------------------------------------------


@dataclass
class Mirrored:
    """What a mirror brought: packs written, objects verified, and the
    remote's packed refs tables put in place here (their names)."""

    packs: int = 0
    objects: int = 0
    refs: list[str] = field(default_factory=list)


@dataclass
class _Arrived:
    """A verified table and its bytes (written as they came)."""

    name: str
    table: tables.Table
    data: bytes


def receive_mirror(store, source: WireSource | LocalSource) -> Mirrored:
    """Receive a mirror (see `mirror_items`) into `store`; raises
    `TransferError` on the first byte that is not what it claims, before
    any ref has moved."""
    from .remote import RemoteError
    from .transfer import TransferError

    start = source.message()
    if isinstance(start, dict) and "error" in start:
        raise RemoteError(f"the remote says: {start['error']}")
    if not isinstance(start, dict) or start.get("format") != MIRROR_FORMAT:
        raise TransferError("not an ASR mirror stream (or a newer format)")
    small: dict[str, list[_Arrived]] = {"index": [], "refs": []}
    for _ in range(start["tables"]):
        head = source.message()
        if head.get("kind") not in small:
            raise TransferError("damaged stream: a table of an unknown kind")
        got = _verified_table(head["name"], source.frame())
        if head["kind"] == "refs" and (
            got.table.type != "refs" or "oid" not in got.table.columns
        ):
            raise TransferError(f"damaged stream: {got.name} is not a refs table")
        small[head["kind"]].append(got)
    heads = _heads_to_check(small["refs"])
    done = Mirrored()
    with progress.task("Receiving packs", start.get("bytes"), "bytes") as advance:
        for _ in range(start["packs"]):
            head = source.message()
            if head.get("kind") != "pack":
                raise TransferError("damaged stream: a pack was expected")
            table = _verified_table(head["name"], source.frame())
            size = head["size"]
            chunks = source.raw(size) if start.get("raw") else _frames(source, size)
            chunks = _counted(chunks, advance)
            done.objects += _receive_pack(store, table, size, chunks, heads)
            done.packs += 1
    if source.message() != {"end": start["packs"]}:
        raise TransferError("damaged stream: its end does not match its start")
    store.refresh()
    for got in small["index"]:  # an index entry before its ref
        write_atomic(store.index_dir / "packed" / got.name, got.data)
    for got in small["refs"]:
        if _heads_here(store, got.table, heads):
            write_atomic(store.refs_dir / "packed" / got.name, got.data)
            done.refs.append(got.name)
    store.refresh()
    return done


def _counted(chunks: Iterator[bytes], advance: progress.Advance) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        advance(len(chunk))


def _frames(source, size: int) -> Iterator[bytes]:
    """A pack's `size` bytes, in the frames they came in."""
    from .transfer import TransferError

    left = size
    while left > 0:
        chunk = source.frame()
        if not chunk or len(chunk) > left:
            raise TransferError("damaged stream: a pack is longer than it said")
        left -= len(chunk)
        yield chunk


def _verified_table(name: str, data: bytes) -> _Arrived:
    from .transfer import TransferError

    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise TransferError(f"damaged stream: not a table name: {name!r}")
    try:
        obj = decode_object(name[: -len(tables.SUFFIX)], data, "mirror")
        keys = np.ascontiguousarray(obj.payload["keys"]).view("S16").ravel()
        table = tables.Table(
            obj.header["type"], keys, obj.payload["columns"], obj.header["meta"]
        )
    except (StoreError, KeyError, TypeError, ValueError) as err:
        raise TransferError(f"a damaged table arrived: {err}") from None
    return _Arrived(name, table, data)


def _rows16(column: np.ndarray) -> list[bytes]:
    raw = np.ascontiguousarray(column).tobytes()
    return [raw[i : i + 16] for i in range(0, len(raw), 16)]


Heads = dict[bytes, bytes | None]
_SETTLED = object()  # a head seen in the stream already (`Heads.pop` default)


def _heads_to_check(refs: list[_Arrived]) -> Heads:
    """head id -> the uid refs tables name it for (None where they name it
    for two: a damaged sender); a head leaves once seen in the stream and
    found a revision of its uid."""
    pairs = [
        (oid, uid)
        for got in refs
        for uid, oid in zip(_rows16(got.table.keys), _rows16(got.table.columns["oid"]))
    ]
    heads = dict(pairs)
    if len(heads) < len(pairs):  # a head named twice: for one uid, or two
        heads = {}
        for oid, uid in pairs:
            if heads.setdefault(oid, uid) != uid:
                heads[oid] = None
    return heads


class _PackCheck:
    """A pack's bytes verified as they arrive: every object's hash against
    its id in the table, every head named by a refs table against its uid.

    Objects are taken in the order of their offsets. Those that lie in one
    piece (a frame, or a read of raw bytes) are hashed in one
    comprehension, the hot loop of a clone (two hundred thousand objects a
    gigabyte); one split between pieces is hashed as its parts come, so
    that a File blob of gigabytes is never held in memory whole (only a
    head's parts are kept, for its uid)."""

    def __init__(self, name: str, table: tables.Table, size: int, heads: Heads):
        from .transfer import TransferError

        offsets = np.asarray(table.columns["offset"], np.int64)
        order = np.argsort(offsets, kind="stable")
        starts = offsets[order]
        ends = starts + np.asarray(table.columns["length"], np.int64)[order]
        # As `write_pack` makes them: the objects fill the pack after its
        # header, so that every byte that arrives is one some hash checks.
        bounds = np.concatenate([[len(_PACK_MAGIC)], ends])
        if (starts != bounds[:-1]).any() or bounds[-1] != size:
            raise TransferError(f"damaged stream: {name}'s objects do not fill it")
        self.name, self.heads = name, heads
        self.starts, self.ends = starts.tolist(), ends.tolist()
        self.keys = _rows16(np.ascontiguousarray(table.keys)[order])
        self.head_at = [i for i, key in enumerate(self.keys) if key in heads]
        self.i = self.h = self.pos = 0  # next object, next head, bytes seen
        self.partial = None  # the hash of object i, begun in an earlier piece
        self.parts: list[bytes] | None = None  # and its bytes, if it is a head

    def feed(self, chunk: bytes) -> None:
        from .transfer import TransferError

        lo, hi, i = self.pos, self.pos + len(chunk), self.i
        if lo == 0 and chunk[: len(_PACK_MAGIC)] != _PACK_MAGIC:
            raise TransferError(f"damaged stream: {self.name} is not a pack")
        view = memoryview(chunk)
        if self.partial is not None:
            end = self.ends[i]
            part = view[: min(end, hi) - lo]
            self.partial.update(part)
            if self.parts is not None:
                self.parts.append(bytes(part))
            if end > hi:
                self.pos = hi
                return
            self._verified(i, self.partial.digest())
            if self.parts is not None:
                self._head(i, b"".join(self.parts))
                self.h += 1
            self.partial = self.parts = None
            i += 1
        j = bisect.bisect_right(self.ends, hi, i)
        if j > i:
            starts, ends = self.starts[i:j], self.ends[i:j]  # all from `lo` on
            got = [_digest(view[s - lo : e - lo]) for s, e in zip(starts, ends)]
            if got != self.keys[i:j]:
                k = next(k for k, key in enumerate(got) if key != self.keys[i + k])
                self._verified(i + k, got[k])
            head_at, h = self.head_at, self.h
            while h < len(head_at) and head_at[h] < j:
                k = head_at[h]
                self._head(k, view[self.starts[k] - lo : self.ends[k] - lo])
                h += 1
            self.h = h
        i = j
        if i < len(self.starts) and self.starts[i] < hi:  # ends in a later piece
            part = view[self.starts[i] - lo :]
            self.partial = xxhash.xxh3_128(part)
            is_head = self.h < len(self.head_at) and self.head_at[self.h] == i
            self.parts = [bytes(part)] if is_head else None
        self.i, self.pos = i, hi

    def _verified(self, i: int, got: bytes) -> None:
        from .transfer import TransferError

        if got != self.keys[i]:
            raise TransferError(
                f"a damaged object arrived in {self.name} at {self.starts[i]}"
            )

    def _head(self, i: int, data) -> None:
        """Is object `i`, a head, a revision of the one uid refs name it for?
        (None: two uids for one head, a damaged sender.) Seen once, it is
        settled."""
        from .transfer import TransferError

        key = self.keys[i]
        uid = self.heads.pop(key, _SETTLED)
        if uid is not _SETTLED and (uid is None or not is_revision_of(data, uid)):
            raise TransferError(
                f"{key.hex()} is not a revision of the uid the refs name it for"
            )

    def close(self) -> None:
        from .transfer import TransferError

        if self.i < len(self.starts):
            raise TransferError(f"the stream ended early in {self.name}")


def _receive_pack(store, got: _Arrived, size: int, chunks, heads: Heads) -> int:
    """Write one pack's bytes beside its final name, verifying each object
    as its last byte arrives; commit it (pack, then table) only if all agree."""
    from .transfer import TransferError

    table = got.table
    pack = table.meta.get("pack", "")
    if table.type != "pack" or not _PACK_NAME.match(pack):
        raise TransferError(f"damaged stream: {got.name} is not a pack's table")
    check = _PackCheck(pack, table, size, heads)
    store.pack_dir.mkdir(parents=True, exist_ok=True)
    final = store.pack_dir / pack
    tmp = _tmp_name(final)
    fd = _open_exclusive(tmp)
    try:
        writer = BackgroundWriter(fd)  # the kernel copies while we hash
        try:
            for chunk in chunks:
                writer.write(chunk)
                check.feed(chunk)
            check.close()
            writer.close()
            os.fsync(fd)
        finally:
            with contextlib.suppress(OSError):  # after an error: wait, not raise
                writer.close()
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    write_atomic(store.pack_dir / got.name, got.data)  # the commit point
    return len(check.starts)


_UID_KEY = b"\xa3uid\xd8" + bytes([codec.EXT_UID])  # "uid": a Uid, in msgpack


def is_revision_of(data, uid: bytes) -> bool:
    """Is `data` a record object whose header names `uid`?

    The header (keys index, parent, uid) comes before the payload, so the
    first "uid" key holding a Uid is its own, unless the bytes of the index
    terms happen to spell one: then `record_uid` parses the header."""
    data = bytes(data)
    at = data.find(_UID_KEY, 13)
    if at > 0 and data[at + 6 : at + 22] == uid and data.startswith(_RECORD):
        return True
    return record_uid(data) == uid


_RECORD = b"\x95\xa3asr\x01\xa6record"


def record_uid(data) -> bytes | None:
    """The uid in a record object's header (16 bytes), read without decoding
    its payload; None for another kind of object."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        if unpacker.read_array_header() != 5 or unpacker.unpack() != "asr":
            return None
        unpacker.skip()  # the format version (checked when it is decoded)
        if unpacker.unpack() != "record":
            return None
        for _ in range(unpacker.read_map_header()):
            if unpacker.unpack() == "uid":
                value = unpacker.unpack()
                if isinstance(value, msgpack.ExtType) and value.code == codec.EXT_UID:
                    return value.data
                return None
            unpacker.skip()
    except (ValueError, msgpack.OutOfData, msgpack.ExtraData):
        return None
    return None


def _heads_here(store, table: tables.Table, heads: Heads) -> bool:
    """Is every head of a refs table verified: seen in the stream, or in
    this store already (a pack of an earlier, killed clone) and a revision
    of its uid? A table that fails is not copied; the ordinary negotiation
    brings its refs."""
    from .ids import ObjectId

    for uid, oid in zip(_rows16(table.keys), _rows16(table.columns["oid"])):
        if oid in heads:  # not seen in the stream
            hexid = ObjectId(oid.hex())
            if not store.has(hexid) or not is_revision_of(store.get_bytes(hexid), uid):
                return False
    return True
