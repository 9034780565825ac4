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

from collections.abc import Iterator, Mapping
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


class Entries(Mapping):
    """The payload entries of a record object, as slices of its bytes made
    when asked for: `bounds` are where the header, the payload's map header
    and each entry end."""

    __slots__ = ("data", "bounds")

    def __init__(self, data: bytes, bounds: list[int]):
        self.data, self.bounds = data, bounds

    def __getitem__(self, key: str) -> bytes:
        i = _POSITION[key]  # KeyError for any other key
        start = self.bounds[i + 1] + len(_SORTED_KEY_BYTES[i])
        return self.data[start : self.bounds[i + 2]]

    def __iter__(self) -> Iterator[str]:
        return iter(_SORTED_KEYS)

    def __len__(self) -> int:
        return len(_SORTED_KEYS)

    def holds(self, key: str, value: bytes) -> bool:
        """Is entry `key` exactly these bytes? (No copy made.)"""
        i = _POSITION[key]
        start = self.bounds[i + 1] + len(_SORTED_KEY_BYTES[i])
        end = self.bounds[i + 2]
        return end - start == len(value) and self.data.startswith(value, start)


@dataclass
class RawRecord:
    """A record object split up: its header's and its entries' bytes."""

    oid: ObjectId
    header_bytes: bytes
    entries: Mapping[str, bytes]

    @property
    def header(self) -> dict:
        return decode(self.header_bytes)


def _unpacker(data: bytes) -> msgpack.Unpacker:
    # Sized to the data: a default Unpacker allocates a large buffer, which
    # costs more than splitting a small record.
    size = max(len(data), 1)
    unpacker = msgpack.Unpacker(
        raw=False, strict_map_key=False, max_buffer_size=size, read_size=size
    )
    unpacker.feed(data)
    return unpacker


def split_record(oid: ObjectId, data: bytes) -> RawRecord | None:
    """The header and payload entries of a Record object; None if `data` is
    another kind of object or an unusual payload (read those whole).

    Only skips over the bytes and notes where each entry ends: a selection
    splits every Record of a store, so this is its hot path. The payload of
    a Record is a map whose keys are `PAYLOAD_KEYS` in canonical (sorted)
    order, each checked in place.
    """
    unpacker = _unpacker(data)
    skip, tell = unpacker.skip, unpacker.tell
    try:
        if unpacker.read_array_header() != 5 or unpacker.unpack() != MAGIC:
            return None
        skip()  # format version: checked when the store read it
        if unpacker.unpack() != "record":
            return None
        header = tell()
        skip()
        header_end = tell()
        if unpacker.read_map_header() != len(_SORTED_KEYS):
            return None
        end = tell()
        bounds = [header_end, end]
        for key in _SORTED_KEY_BYTES:
            if not data.startswith(key, end):
                return None
            skip()
            skip()
            end = tell()
            bounds.append(end)
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    if end != len(data):
        return None
    entries = Entries(data, bounds)
    if not entries.holds("type", _ASR_RECORD):
        return None
    return RawRecord(oid, data[header:header_end], entries)


def map_entry(data: bytes, key: str) -> bytes | None:
    """The bytes of one value of an encoded map (None if it has no `key`),
    found by skipping over the others."""
    unpacker = _unpacker(data)
    for _ in range(unpacker.read_map_header()):
        if unpacker.unpack() == key:
            start = unpacker.tell()
            unpacker.skip()
            return data[start : unpacker.tell()]
        unpacker.skip()
    return None


_SORTED_KEYS = sorted(PAYLOAD_KEYS)
_SORTED_KEY_BYTES = [encode(key) for key in _SORTED_KEYS]
_POSITION = {key: i for i, key in enumerate(_SORTED_KEYS)}
_ASR_RECORD = encode("asr.record")
_NONE = encode(None)


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


def _from_header(key: str) -> property:
    def get(self: LazyRecord) -> Any:
        values = self._values
        if key not in values:
            values[key] = self._header().get(key)
        return values[key]

    def set(self: LazyRecord, value: Any) -> None:
        self._values[key] = value

    return property(get, set, doc=f"The Record's {key}, from its header.")


class LazyRecord(Record):
    """A Record whose big entries (and header) are decoded when first read.

    Behaves as a Record in every way (migrations change it in place or
    make new ones); `untouched()` names the entries nobody has read, whose
    stored bytes are still exactly right. A selection reads the name,
    version and a metadata entry or two of every Record and decodes the
    rest only of those that fit.
    """

    arguments = _lazy("arguments")
    result = _lazy("result")
    metadata = _lazy("metadata")
    dependencies = _lazy("dependencies")
    uid = _from_header("uid")
    parent = _from_header("parent")

    def __init__(self, *args: Any, **kwargs: Any):
        self._raw: Mapping[str, bytes] = {}
        self._values: dict[str, Any] = {}
        self._header_bytes: bytes | None = None
        self._decoded_header: dict | None = None
        super().__init__(*args, **kwargs)

    @classmethod
    def from_raw(cls, raw: RawRecord, uid: Uid | None = None) -> LazyRecord:
        """`uid`, if given, is the one its ref names (saves decoding the header)."""
        record = cls.__new__(cls)
        record._raw = entries = raw.entries
        record._values = {} if uid is None else {"uid": Uid(uid)}
        record._header_bytes = raw.header_bytes
        record._decoded_header = None
        record.name = decode(entries["name"])
        record.version = decode(entries["version"])
        record.revision = (
            None  # most Records were never migrated
            if isinstance(entries, Entries) and entries.holds("revision", _NONE)
            else Revision.from_data(decode(entries["revision"]))
        )
        record.oid = raw.oid
        return record

    def _header(self) -> dict:
        if self._decoded_header is None:
            data = self._header_bytes
            self._decoded_header = {} if data is None else decode(data)
        return self._decoded_header

    @property
    def stored_terms(self) -> IndexTerms | None:
        """The index terms it was stored with (None if it was not read)."""
        if "stored_terms" not in self._values:
            index = self._header().get("index")
            terms = None if index is None else IndexTerms.from_data(index)
            self._values["stored_terms"] = terms
        return self._values["stored_terms"]

    @stored_terms.setter
    def stored_terms(self, terms: IndexTerms | None) -> None:
        self._values["stored_terms"] = terms

    def metadata_entry(self, key: str, default: Any = None) -> Any:
        if "metadata" in self._values or "metadata" not in self._raw:
            return self.metadata.get(key, default)
        found = map_entry(self._raw["metadata"], key)
        return default if found is None else decode(found)

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
