"""What differs between two values: flattened paths, changed/added/removed.

Used by `asr diff` (why did this not hit the cache?) and by migrations, whose
Revision lists exactly the entries a migration changed, added and removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from asr.store import decode, encode
from asr.store.codec import registration


@dataclass(frozen=True)
class Change:
    """One entry that differs: `kind` is "changed", "added" or "removed"."""

    kind: str
    path: str
    old: Any = None
    new: Any = None

    def to_data(self) -> dict:
        return {"kind": self.kind, "path": self.path}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested dicts (and registered types) by dotted path."""
    t = type(value)
    registered = registration(t)
    if registered is not None:
        value = registered[1](value)
        t = type(value)
    if t is dict and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return encode(a) == encode(b)
        except TypeError:
            return False
    try:
        return bool(a == b) and type(a) is type(b)
    except (ValueError, TypeError):
        return encode(a) == encode(b)


def diff(old: Any, new: Any) -> list[Change]:
    """Every leaf that changed, was added or was removed, sorted by path."""
    return diff_flat(flatten(old), flatten(new))


def diff_flat(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """`diff` of two values already flattened."""
    changes = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            changes.append(Change("removed", path, old=a[path]))
        elif path not in a:
            changes.append(Change("added", path, new=b[path]))
        elif not same(a[path], b[path]):
            changes.append(Change("changed", path, a[path], b[path]))
    return changes


def diff_entries(
    before: Mapping[str, bytes], after: Mapping[str, bytes]
) -> list[Change]:
    """`diff` of two dicts given as each entry's canonical bytes.

    Equal bytes are equal content, so only the entries whose bytes differ
    are decoded and flattened: a migration that changes one entry of a
    Record pays for that entry only.
    """
    changes = []
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        changes += diff_flat(
            {} if old is None else flatten(decode(old), key),
            {} if new is None else flatten(decode(new), key),
        )
    changes.sort(key=lambda change: change.path)
    return changes
