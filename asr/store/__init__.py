"""Content-addressed object store (`.asr/`): bytes in, ids out.

Knows nothing about atoms or records beyond their uid, parent and index
terms. See docs/architecture.md for the layout and its guarantees.
"""

from .base import DEFAULT_ATOL, DEFAULT_RTOL, BaseStore
from .codec import Tagged, add_tag_resolver, decode, encode, register_type
from .disk import DiskStore, find_root, init_store, open_store
from .errors import (
    AmbiguousIdError,
    CorruptObjectError,
    DecodeError,
    EncodeError,
    LockTimeoutError,
    NoStoreError,
    ObjectNotFoundError,
    RefConflictError,
    StoreError,
    StoreWarning,
)
from .ids import ObjectId, Uid, digest, hash_bytes
from .memory import MemoryStore
from .objects import IndexTerms, StoredObject

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "AmbiguousIdError",
    "BaseStore",
    "CorruptObjectError",
    "DecodeError",
    "DiskStore",
    "EncodeError",
    "IndexTerms",
    "LockTimeoutError",
    "MemoryStore",
    "NoStoreError",
    "ObjectId",
    "ObjectNotFoundError",
    "RefConflictError",
    "StoreError",
    "StoreWarning",
    "StoredObject",
    "Tagged",
    "Uid",
    "add_tag_resolver",
    "decode",
    "digest",
    "encode",
    "find_root",
    "hash_bytes",
    "init_store",
    "open_store",
    "register_type",
]
