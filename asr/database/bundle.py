"""Bundles: the Records of one material, as one text value in a row's data.

A bundle is base64 of canonical msgpack ``{"format": 1, "objects": [raw object
bytes...], "refs": {uid: head oid}}``. Objects keep their exact bytes, so ids
survive the trip; they are verified when a bundle is unpacked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from asr.core import Record
from asr.store import BaseStore, MemoryStore, ObjectId, Uid, codec
from asr.store.codec import references

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


def unpack_bundle(
    text: str, into: BaseStore | None = None
) -> tuple[BaseStore, dict[Uid, ObjectId]]:
    """Objects of a bundle added to `into` (a new MemoryStore by default)."""
    data = codec.decode(base64.b64decode(text))
    if data.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"unknown bundle format {data.get('format')!r}")
    store = MemoryStore() if into is None else into
    for raw in data["objects"]:
        store.add_raw(raw)
    return store, {Uid(u): ObjectId(o) for u, o in data["refs"].items()}


def row_store(row: Any) -> tuple[BaseStore, dict[Uid, ObjectId]]:
    """The Records of an ASE database row, in a store of their own."""
    text = row.data.get(DATA_KEY, {}).get("bundle") if hasattr(row, "data") else None
    if not text:
        return MemoryStore(), {}
    return unpack_bundle(text)


def row_records(row: Any) -> list[Record]:
    """The newest revision of every Record bundled in a row."""
    store, refs = row_store(row)
    return [Record.from_stored(store.get(oid)) for oid in refs.values()]
