"""Records read entry by entry, so a migration decodes only what it uses.

A record object's bytes are the canonical msgpack array
``["asr", 1, "record", header, payload]`` and its payload is a map, so each
payload entry is a run of canonical bytes of its own. `LazyRecord` is a
Record that decodes an entry (and builds its Atoms) only when a selector or
a migration first reads it; a new revision keeps the stored bytes of the
entries nobody read, and `record_object` splices them into its object
without decoding and encoding them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from asr.store import (
    BaseStore,
    IndexTerms,
    ObjectId,
    Uid,
    decode,
    encode,
    hash_bytes,
)
from asr.store.objects import FORMAT_VERSION, MAGIC

from .record import PAYLOAD_KEYS, Dependency, Record, Revision

# Entries decoded only when read; the others are small and decoded at once.
LAZY_KEYS = ("arguments", "result", "metadata", "dependencies")
_PREFIX = b"".join(
    (msgpack.Packer().pack_array_header(5), encode(MAGIC), encode(FORMAT_VERSION))
)
_KEY_BYTES = {key: encode(key) for key in PAYLOAD_KEYS}


@dataclass
class RawRecord:
    """A record object split up: its decoded header, its entries' bytes."""

    oid: ObjectId
    header: dict
    entries: dict[str, bytes]


def split_record(oid: ObjectId, data: bytes) -> RawRecord | None:
    """The header and payload entries of a Record object; None if `data` is
    another kind of object or an unusual payload (read those whole)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        if unpacker.read_array_header() != 5:
            return None
        if unpacker.unpack() != MAGIC:
            return None
        unpacker.skip()  # format version: checked when the store read it
        if unpacker.unpack() != "record":
            return None
        start = unpacker.tell()
        unpacker.skip()
        header = decode(data[start : unpacker.tell()])
        entries = {}
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            start = unpacker.tell()
            unpacker.skip()
            entries[key] = data[start : unpacker.tell()]
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    if entries.keys() != set(PAYLOAD_KEYS) or entries["type"] != _ASR_RECORD:
        return None
    return RawRecord(oid, header, entries)


_ASR_RECORD = encode("asr.record")


def _lazy(key: str) -> property:
    def get(self: LazyRecord) -> Any:
        values = self._values
        if key not in values:
            value = decode(self._raw[key])
            if key == "dependencies":
                value = [Dependency(Uid(u), ObjectId(o)) for u, o in value]
            values[key] = value
        return values[key]

    def set(self: LazyRecord, value: Any) -> None:
        self._values[key] = value

    return property(get, set, doc=f"The Record's {key}, decoded when first read.")


class LazyRecord(Record):
    """A Record whose big entries are decoded when first read.

    Behaves as a Record in every way (migrations change it in place or
    make new ones); `untouched()` names the entries nobody has read, whose
    stored bytes are still exactly right.
    """

    arguments = _lazy("arguments")
    result = _lazy("result")
    metadata = _lazy("metadata")
    dependencies = _lazy("dependencies")

    stored_terms: IndexTerms | None = None  # the index terms it was stored with

    def __init__(self, *args: Any, **kwargs: Any):
        self._raw: dict[str, bytes] = {}
        self._values: dict[str, Any] = {}
        super().__init__(*args, **kwargs)

    @classmethod
    def from_raw(cls, raw: RawRecord) -> LazyRecord:
        record = cls.__new__(cls)
        record._raw = raw.entries
        record._values = {}
        entries = raw.entries
        record.name = decode(entries["name"])
        record.version = decode(entries["version"])
        record.revision = Revision.from_data(decode(entries["revision"]))
        record.uid = raw.header.get("uid")
        record.oid = raw.oid
        record.parent = raw.header.get("parent")
        index = raw.header.get("index")
        record.stored_terms = None if index is None else IndexTerms.from_data(index)
        return record

    def stored_entry(self, key: str) -> bytes | None:
        """The stored bytes of a payload entry, whatever happened since."""
        return self._raw.get(key)

    def stored_entries(self, keys: tuple[str, ...]) -> dict[str, bytes] | None:
        """The stored bytes of these entries; None unless all were stored."""
        raw = self._raw
        try:
            return {key: raw[key] for key in keys}
        except KeyError:
            return None

    def untouched(self) -> dict[str, bytes]:
        """Stored bytes of the lazy entries that were never read or set."""
        return {
            key: self._raw[key]
            for key in LAZY_KEYS
            if key not in self._values and key in self._raw
        }


def read_record(store: BaseStore, oid: str) -> Record | None:
    """The Record stored as `oid`, decoded lazily; None if it is no Record."""
    data = store.get_bytes(oid)
    raw = split_record(ObjectId(oid), data)
    if raw is not None:
        return LazyRecord.from_raw(raw)
    obj = store.get(oid)  # an unusual payload: the whole way
    return Record.from_stored(obj) if Record.is_record(obj) else None


def entry_bytes(
    record: Record, keys: tuple[str, ...] = PAYLOAD_KEYS
) -> dict[str, bytes]:
    """Canonical bytes of the Record's payload entries `keys`: as stored
    for the entries of a LazyRecord nobody read, encoded for the others."""
    kept = record.untouched() if isinstance(record, LazyRecord) else {}
    return {
        key: kept[key] if key in kept else encode(record.payload_value(key))
        for key in keys
    }


def record_object(header: dict, entries: Mapping[str, bytes]) -> tuple[ObjectId, bytes]:
    """Id and bytes of a record object, from its payload entries' bytes.

    The same bytes as `encode_object("record", header, payload)`: a map's
    canonical encoding is its header and then key, value for each key in
    sorted order.
    """
    keys = sorted(entries)
    parts = [
        _PREFIX,
        encode("record"),
        encode(header),
        msgpack.Packer().pack_map_header(len(keys)),
    ]
    for key in keys:
        parts.append(_KEY_BYTES.get(key) or encode(key))
        parts.append(entries[key])
    data = b"".join(parts)
    return hash_bytes(data), data
