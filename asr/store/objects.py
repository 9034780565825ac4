"""The object format: a typed header, a format version and a payload.

An object's canonical bytes are the codec's encoding of
``["asr", FORMAT_VERSION, kind, header, payload]``; its id is the xxh3-128
hash of those bytes. Kinds:

* ``blob``: payload is raw bytes (a .gpw file, a figure);
* ``record``: payload is any storable data; the header holds the record's
  ``uid``, the ``parent`` revision it was made from (or None) and the
  ``index`` terms by which the cache finds it;
* ``table``: the store's own immutable lookup tables (pack indices, packed
  refs, index segments) - checked by hash like every other object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import codec
from .errors import CorruptObjectError, DecodeError
from .ids import ObjectId, Uid, hash_bytes

MAGIC = "asr"
FORMAT_VERSION = 1
KINDS = ("blob", "record", "table")


@dataclass(frozen=True)
class IndexTerms:
    """How the index finds a record: an exact key and a float-masked shape.

    `exact` hashes the full normalised arguments; `shape` hashes them with
    every float replaced by a placeholder, and `floats` holds those floats in
    order, to be compared within a tolerance.
    """

    exact: bytes
    shape: bytes
    floats: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        if len(self.exact) != 16 or len(self.shape) != 16:
            raise ValueError("index keys are 16 bytes")
        floats = np.ascontiguousarray(self.floats, dtype="<f8").ravel()
        object.__setattr__(self, "floats", floats)

    def to_data(self) -> dict:
        return {"exact": self.exact, "shape": self.shape, "floats": self.floats}

    @classmethod
    def from_data(cls, data: dict) -> IndexTerms:
        return cls(data["exact"], data["shape"], data["floats"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndexTerms):
            return NotImplemented
        return (
            self.exact == other.exact
            and self.shape == other.shape
            and self.floats.tobytes() == other.floats.tobytes()
        )

    def __hash__(self) -> int:
        return hash((self.exact, self.shape))


@dataclass(frozen=True)
class StoredObject:
    """An object as read back: verified, decoded, immutable."""

    oid: ObjectId
    kind: str
    header: dict
    payload: Any

    @property
    def uid(self) -> Uid | None:
        return self.header.get("uid")

    @property
    def parent(self) -> ObjectId | None:
        return self.header.get("parent")

    @property
    def index(self) -> IndexTerms | None:
        data = self.header.get("index")
        return None if data is None else IndexTerms.from_data(data)


def encode_object(kind: str, header: dict, payload: Any) -> tuple[ObjectId, bytes]:
    """Canonical bytes of an object and the id they hash to."""
    if kind not in KINDS:
        raise ValueError(f"unknown object kind {kind!r}")
    data = codec.encode([MAGIC, FORMAT_VERSION, kind, header, payload])
    return hash_bytes(data), data


def record_header(uid: Uid, parent: ObjectId | None, index: IndexTerms | None) -> dict:
    return {
        "uid": uid,
        "parent": parent,
        "index": None if index is None else index.to_data(),
    }


def verify(oid: str, data: bytes, where: str = "") -> None:
    actual = hash_bytes(data)
    if actual != oid:
        raise CorruptObjectError(oid, str(oid), actual, where)


def decode_object(oid: str, data: bytes, where: str = "") -> StoredObject:
    """Verify the hash, then decode. Never trusts bytes it has not checked."""
    verify(oid, data, where)
    try:
        magic, version, kind, header, payload = codec.decode(data)
    except (ValueError, TypeError) as err:
        raise DecodeError(f"object {oid} is not an ASR object: {err}") from None
    if magic != MAGIC:
        raise DecodeError(f"object {oid} is not an ASR object")
    if version > FORMAT_VERSION:
        raise DecodeError(
            f"object {oid} has format {version}; this ASR reads up to "
            f"{FORMAT_VERSION}: upgrade asr"
        )
    return StoredObject(ObjectId(oid), kind, header, payload)
