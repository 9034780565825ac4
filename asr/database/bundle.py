"""Bundles: the Records of one material, as one text value in a row's data.

A bundle is base64 of canonical msgpack ``{"format": 1, "objects": [raw object
bytes...], "refs": {uid: head oid}}``. Objects keep their exact bytes, so ids
survive the trip; they are verified when a bundle is unpacked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from asr.core import Record
from asr.store import BaseStore, DecodeError, MemoryStore, ObjectId, Uid, codec
from asr.store.codec import references
from asr.store.ids import hash_bytes
from asr.store.objects import decode_object

BUNDLE_FORMAT = 1
DATA_KEY = "asr"


def _closure(store: BaseStore, heads: Iterable[ObjectId]) -> list[ObjectId]:
    """Every object reachable from `heads`: revisions, parents, blobs, deps."""
    seen: set[ObjectId] = set()
    order: list[ObjectId] = []
    stack = list(heads)
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        order.append(oid)
        obj = store.get(oid)
        if obj.kind == "record":
            stack.extend(references(obj.payload))
            if obj.parent is not None:
                stack.append(obj.parent)
            if Record.is_record(obj):
                stack.extend(ObjectId(o) for _u, o in obj.payload["dependencies"])
    return order


def pack_records(store: BaseStore, uids: Iterable[str]) -> str:
    """A bundle of the Records `uids` with everything they refer to."""
    refs = {Uid(uid): store.get_ref(uid) for uid in uids}
    refs = {str(uid): oid for uid, oid in refs.items() if oid is not None}
    objects = [store.get_raw(oid) for oid in _closure(store, refs.values())]
    data = codec.encode({"format": BUNDLE_FORMAT, "objects": objects, "refs": refs})
    return base64.b64encode(data).decode("ascii")


def _decode_container(text: str) -> dict:
    try:
        data = codec.decode(base64.b64decode(text, validate=True))
    except (ValueError, DecodeError) as err:
        raise DecodeError(f"not a bundle of records: {err}") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise DecodeError(f"unknown bundle format {found!r}")
    return data


def unpack_bundle(
    text: str, into: BaseStore | None = None
) -> tuple[BaseStore, dict[Uid, ObjectId]]:
    """Objects of a bundle added to `into` (a new MemoryStore by default)."""
    data = _decode_container(text)
    store = MemoryStore() if into is None else into
    for raw in data["objects"]:
        store.add_raw(raw)
    return store, {Uid(u): ObjectId(o) for u, o in data["refs"].items()}


def bundle_refs(text: str) -> dict[Uid, ObjectId]:
    """The Records of a bundle (uid -> head revision), without its objects."""
    data = _decode_container(text)
    return {Uid(u): ObjectId(o) for u, o in data["refs"].items()}


@dataclass(frozen=True)
class RevisionInfo:
    """Where a record revision sits: its record's uid and its parent."""

    uid: Uid
    parent: ObjectId | None


@dataclass
class Bundle:
    """A bundle read and verified: raw objects by id, refs, revision chains."""

    objects: dict[ObjectId, bytes]
    refs: dict[Uid, ObjectId]
    revisions: dict[ObjectId, RevisionInfo]


def read_bundle(text: str) -> Bundle:
    """Decode a bundle and verify every object and ref in it.

    Each object must decode as an ASR object; each ref must name a record
    revision of that uid held in the bundle. Raises `DecodeError` otherwise.
    """
    data = _decode_container(text)
    objects: dict[ObjectId, bytes] = {}
    revisions: dict[ObjectId, RevisionInfo] = {}
    for raw in data["objects"]:
        raw = bytes(raw)
        oid = hash_bytes(raw)
        obj = decode_object(oid, raw, "bundle")
        objects[oid] = raw
        if obj.kind == "record" and obj.uid is not None:
            revisions[oid] = RevisionInfo(Uid(obj.uid), obj.parent)
    refs = {Uid(u): ObjectId(o) for u, o in data["refs"].items()}
    for uid, oid in refs.items():
        info = revisions.get(oid)
        if info is None or info.uid != uid:
            raise DecodeError(f"bundle ref {uid} does not name one of its revisions")
    return Bundle(objects, refs, revisions)


def is_ancestor(
    revisions: Mapping[ObjectId, RevisionInfo], old: ObjectId, new: ObjectId
) -> bool:
    """Is `old` on the revision chain of `new` (or `new` itself)?"""
    seen: set[ObjectId] = set()
    oid: ObjectId | None = new
    while oid is not None and oid not in seen:
        if oid == old:
            return True
        seen.add(oid)
        info = revisions.get(oid)
        oid = None if info is None else info.parent
    return False


def newer_head(
    revisions: Mapping[ObjectId, RevisionInfo], current: ObjectId, new: ObjectId
) -> ObjectId | None:
    """Which of two heads of a record to keep: the one whose chain holds the
    other; None when they diverged (neither is an ancestor of the other)."""
    if is_ancestor(revisions, current, new):
        return new
    if is_ancestor(revisions, new, current):
        return current
    return None


def row_store(row: Any) -> tuple[BaseStore, dict[Uid, ObjectId]]:
    """The Records of an ASE database row, in a store of their own."""
    text = row_bundle(row)
    if not text:
        return MemoryStore(), {}
    return unpack_bundle(text)


def row_bundle(row: Any) -> str | None:
    """The bundle text of an ASE database row, or None."""
    data = getattr(row, "data", None)
    if not data:
        return None
    asr = data.get(DATA_KEY) or {}
    return asr.get("bundle") or None


def row_records(row: Any) -> list[Record]:
    """The newest revision of every Record bundled in a row."""
    store, refs = row_store(row)
    return [Record.from_stored(store.get(oid)) for oid in refs.values()]
