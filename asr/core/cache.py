"""Finding Records in a store: by instruction, version and any field.

`select` walks the heads of all records, which is right for listing
(`asr cache ls`); cache *lookups* go through the index instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asr.store import BaseStore

from .context import get_store, register_dependency
from .diff import flatten
from .record import Record
from .records import Records


def all_records(store: BaseStore | None = None) -> Iterator[Record]:
    """The newest revision of every Record in the store."""
    store = store or get_store()
    for obj in store.records():
        if Record.is_record(obj):
            yield Record.from_stored(obj)


def matches(record: Record, criteria: dict[str, str]) -> bool:
    """Does `record` fit `criteria` (name=..., version=..., dotted.path=...)?

    Values are compared as text, so criteria can come from a command line;
    paths look into the arguments, the result and the metadata.
    """
    if not criteria:
        return True
    fields = None
    for path, wanted in criteria.items():
        if path == "name":
            if not _name_matches(record.name, wanted):
                return False
            continue
        if path == "version":
            if str(record.version) != str(wanted):
                return False
            continue
        if fields is None:
            fields = flatten(
                {
                    "arguments": record.arguments,
                    "result": record.result,
                    "metadata": record.metadata,
                    "uid": record.uid,
                }
            )
        value = _lookup(fields, path)
        if value is _MISSING or str(value) != str(wanted):
            return False
    return True


_MISSING = object()


def _lookup(fields: dict[str, Any], path: str) -> Any:
    for prefix in ("", "arguments.", "result."):
        if prefix + path in fields:
            return fields[prefix + path]
    return _MISSING


def _name_matches(name: str, wanted: str) -> bool:
    if wanted.endswith("*"):
        return name.startswith(wanted[:-1])
    return name == wanted


def select(store: BaseStore | None = None, **criteria: Any) -> Records:
    """Records matching `criteria`; inside an instruction they become dependencies.

    A `Records` list, which Jupyter and rich show as one table.
    """
    found = Records(r for r in all_records(store) if matches(r, criteria))
    for record in found:
        register_dependency(record.uid, record.oid)
    return found


def get(spec: str, store: BaseStore | None = None) -> Record:
    """A Record by (abbreviated) uid or revision id, as `asr show` takes it."""
    store = store or get_store()
    record = Record.from_stored(store.resolve_object(spec))
    register_dependency(record.uid, record.oid)
    return record
