"""Finding Records in a store: by instruction, version and any field.

`select` walks the heads of all records, which is right for listing
(`asr cache ls`); cache *lookups* go through the index instead. The walk
reads the objects in bulk and decodes a Record's arguments and result only
if its name, version, folder ... fit (see `asr.core.selection.select`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from asr.store import BaseStore, ObjectId, Uid
from asr.store.objects import decode_object

from . import selection
from .context import get_store, register_dependency
from .rawrecord import LazyRecord, split_record
from .record import Record
from .records import Records
from .selection import Criterion, criteria_of


def all_records(store: BaseStore | None = None) -> Iterator[Record]:
    """The newest revision of every Record in the store, in no set order.

    Read in bulk and decoded lazily (`LazyRecord`): a Record's name and
    version at once, the rest when first read, so going through every
    Record to pick a few costs little more than reading their bytes.
    """
    store = store or get_store()
    yield from heads_records(store)


def heads_records(
    store: BaseStore, keep: Callable[[Uid, ObjectId], bool] | None = None
) -> Iterator[Record]:
    """The newest revision of every Record (whose uid and head `keep`
    accepts), read in bulk and decoded lazily."""
    for uid, oid, data in store.heads_bytes(keep):
        raw = split_record(oid, data)
        if raw is not None:
            yield LazyRecord.from_raw(raw, uid)
            continue
        obj = decode_object(oid, data)  # an unusual payload: the whole way
        if Record.is_record(obj):
            yield Record.from_stored(obj)


def selected(store: BaseStore, criteria: Sequence[Criterion]) -> Iterator[Record]:
    """The Records worth matching against `criteria`: a criterion on the uid
    or the revision is decided from the refs, before any object is read."""
    if not any(c.key in selection.REF_FIELDS for c in criteria):
        return heads_records(store)
    return heads_records(store, lambda u, o: selection.fits_ref(criteria, u, o))


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
    store = store or get_store()
    found = Records(r for r in selected(store, wanted) if selection.matches(r, wanted))
    for record in found:
        register_dependency(record.uid, record.oid)
    return found


def get(spec: str, store: BaseStore | None = None) -> Record:
    """A Record by (abbreviated) uid or revision id, as `asr show` takes it."""
    store = store or get_store()
    record = Record.from_stored(store.resolve_object(spec))
    register_dependency(record.uid, record.oid)
    return record
