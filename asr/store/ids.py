"""Identifiers: object ids (content hashes) and record uids (random).

Both are 128-bit values written as 32 lower-case hex digits. They are their
own `str` subclasses, so an id can never be confused with any other string
and the codec can store it as a typed reference (which `gc` and `fsck` follow).
"""

from __future__ import annotations

import os
import re

import xxhash

HEX_LENGTH = 32
_HEX = re.compile(r"[0-9a-f]{32}\Z")


class _Hex128(str):
    __slots__ = ()

    def __new__(cls, value: str | bytes):
        if type(value) is cls:  # already checked: ids are immutable
            return value
        if isinstance(value, bytes):
            if len(value) != 16:
                raise ValueError(f"{cls.__name__} needs 16 bytes, got {len(value)}")
            return super().__new__(cls, value.hex())  # valid by construction
        if not _HEX.match(value):
            raise ValueError(f"not a valid {cls.__name__}: {value!r}")
        return super().__new__(cls, value)

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"


class ObjectId(_Hex128):
    """Name of an immutable object: xxh3-128 of its canonical bytes."""

    __slots__ = ()


class Uid(_Hex128):
    """Stable identity of a record through all its revisions."""

    __slots__ = ()

    @classmethod
    def new(cls) -> Uid:
        return str.__new__(cls, os.urandom(16).hex())  # valid by construction


def hash_bytes(data: bytes | memoryview) -> ObjectId:
    """The object id of canonical bytes."""
    return str.__new__(ObjectId, xxhash.xxh3_128_hexdigest(data))


def digest(data: bytes | memoryview) -> bytes:
    """16 raw bytes of xxh3-128, for index keys."""
    return xxhash.xxh3_128_digest(data)
