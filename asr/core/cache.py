"""Finding Records in a store: by instruction, version and any field.

`select` walks the heads of all records, which is right for listing
(`asr cache ls`); cache *lookups* go through the index instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from asr.store import BaseStore

from . import selection
from .context import get_store, register_dependency
from .record import Record
from .records import Records
from .selection import Criterion, criteria_of


def all_records(store: BaseStore | None = None) -> Iterator[Record]:
    """The newest revision of every Record in the store."""
    store = store or get_store()
    for obj in store.records():
        if Record.is_record(obj):
            yield Record.from_stored(obj)


def matches(record: Record, criteria: Mapping[str, Any] | Sequence[Criterion]) -> bool:
    """Does `record` fit `criteria`?

    `criteria` are parsed `Criterion`s (see `asr.core.selection` for the
    syntax) or keyword equalities from Python (``{"name": "asr.gs"}``).
    """
    if isinstance(criteria, Mapping):
        criteria = criteria_of(criteria)
    return selection.matches(record, criteria)


def select(store: BaseStore | None = None, **criteria: Any) -> Records:
    """Records matching `criteria`; inside an instruction they become dependencies.

    A `Records` list, which Jupyter and rich show as one table.
    """
    wanted = criteria_of(criteria)
    found = Records(r for r in all_records(store) if selection.matches(r, wanted))
    for record in found:
        register_dependency(record.uid, record.oid)
    return found


def get(spec: str, store: BaseStore | None = None) -> Record:
    """A Record by (abbreviated) uid or revision id, as `asr show` takes it."""
    store = store or get_store()
    record = Record.from_stored(store.resolve_object(spec))
    register_dependency(record.uid, record.oid)
    return record
