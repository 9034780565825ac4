"""Migrations: bring old Records up to date without recomputing them.

A `Migration` is a function Record -> Record with a stable uid and a
description. A `Selector` says which Records it applies to; instructions
declare theirs (``@instruction(..., migrations=[...])``) and any module can
`register_migration`. For one Record, `make_strategy` finds the ordered
migrations that apply (v0 -> v1 -> v2), never one twice in a revision chain.
`apply_strategy` writes every step as a new revision object whose `Revision`
lists what changed, and moves the Record's ref once, with compare-and-swap:
each Record migrates atomically and the old revisions stay readable.

Over a whole store, `plan_migrations` counts the Records each strategy would
migrate (a dry run) and `apply_migrations` plans and applies in one pass, a
batch at a time. Neither holds more than one batch of strategies: however
many Records migrate, they keep only a count per strategy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from asr.store import (
    BaseStore,
    IndexTerms,
    ObjectId,
    decode,
    digest,
    encode,
)
from asr.store.collector import collector_paused
from asr.store.objects import record_header

from .arguments import index_terms, plain_arguments, shape_bytes
from .cache import matches
from .diff import Change, diff_entries
from .rawrecord import LazyRecord, entry_bytes, read_record, record_object, split_record
from .record import PAYLOAD_KEYS, Record, Revision

MAX_STEPS = 100
COLLECT_EVERY = 2048  # Records planned between two collections of young garbage


class MigrationError(Exception):
    """A migration raised; the Record it was applied to is left as it was."""


class Selector:
    """Matches Records by instruction name, version or any field.

    ``Selector(name="asr.gs", version=0)``; combine with ``&`` and ``|``;
    ``Selector(predicate=lambda record: ...)`` for anything else.
    """

    def __init__(self, predicate: Callable[[Record], bool] | None = None, **criteria):
        self.criteria = {k: str(v) for k, v in criteria.items()}
        self.predicate = predicate

    def __call__(self, record: Record) -> bool:
        if not matches(record, self.criteria):
            return False
        return self.predicate is None or bool(self.predicate(record))

    def __and__(self, other: Selector) -> Selector:
        return Selector(predicate=lambda r: self(r) and other(r))

    def __or__(self, other: Selector) -> Selector:
        return Selector(predicate=lambda r: self(r) or other(r))

    def __repr__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.criteria.items()]
        if self.predicate is not None:
            parts.append("predicate")
        return f"Selector({', '.join(parts)})"


@dataclass(frozen=True)
class Migration:
    """A named, described change of a Record (e.g. rename a result key)."""

    uid: str
    description: str
    function: Callable[[Record], Record]

    def __call__(self, record: Record) -> Record:
        """Apply to `record`, which the function may change in place."""
        return self.function(record)


@dataclass(frozen=True)
class MigrationSelector:
    selector: Selector
    migration: Migration


_registered: list[MigrationSelector] = []


def register_migration(migration: Migration, selector: Selector) -> None:
    """Make `migration` apply to the Records `selector` matches."""
    _registered.append(MigrationSelector(selector, migration))


def migration_selectors() -> list[MigrationSelector]:
    """Registered migrations and those declared by instructions."""
    from .instruction import registry

    selectors = list(_registered)
    for instr in registry().values():
        for item in instr.migrations:
            if isinstance(item, MigrationSelector):
                selectors.append(item)
            else:
                selectors.append(MigrationSelector(Selector(name=instr.name), item))
    return selectors


@dataclass
class MigrationStrategy:
    """The ordered migrations that bring one Record up to date.

    `revisions` are the new revision objects, encoded when each migration
    ran (id, bytes), so a later migration that changes a Record in place
    cannot alter an earlier revision; `changes` lists what each one changed;
    `terms` are the index terms of the newest.
    """

    record: Record
    migrations: list[Migration]
    revisions: list[tuple[ObjectId, bytes]] = field(default_factory=list)
    changes: list[list[Change]] = field(default_factory=list)
    terms: Any = None

    @property
    def description(self) -> str:
        return " -> ".join(m.description for m in self.migrations)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(m.uid for m in self.migrations)


def applied_migrations(store: BaseStore, record: Record) -> set[str]:
    """Uids of the migrations already in the Record's revision chain."""
    applied = set()
    oid: str | None = record.oid
    while oid is not None:
        data = store.get_bytes(oid)
        raw = split_record(ObjectId(oid), data)
        if raw is not None:
            revision, oid = decode(raw.entries["revision"]), raw.header.get("parent")
        else:
            obj = store.get(oid)
            payload, oid = obj.payload, obj.parent
            revision = payload.get("revision") if isinstance(payload, dict) else None
        if revision:
            applied.add(revision["migration"])
    return applied


class ShapeCache:
    """Index terms of migrated Records whose arguments did not change.

    Such a Record keeps its arguments, so its new terms differ from its
    stored ones only by name and version. The masked arguments' bytes are
    worked out once per stored shape (and checked against its hash, which
    also covers the stored name and version); each Record's floats come
    from its stored terms (checked against its exact key). Anything that
    does not check out is computed the long way.
    """

    def __init__(self) -> None:
        # stored shape hash -> (its bytes, the masked arguments' bytes)
        self._old: dict[bytes, tuple[bytes, bytes] | None] = {}
        self._new: dict[tuple, tuple[bytes, bytes]] = {}  # -> new bytes, hash

    def terms(self, record: Record, new: Record, arguments: bytes) -> IndexTerms:
        """Terms of `new`, migrated from `record`; `arguments` are the
        canonical bytes of its arguments."""
        stored = record.stored_terms if isinstance(record, LazyRecord) else None
        if stored is not None and arguments == record.stored_entry("arguments"):
            old = self._old_shape(record, stored.shape)
            floats = stored.floats.tobytes()
            if old is not None and digest(old[0] + floats) == stored.exact:
                key = (stored.shape, new.name, new.version)
                if key not in self._new:
                    shape = shape_bytes(new.name, new.version, old[1])
                    self._new[key] = shape, digest(shape)
                shape, shape_hash = self._new[key]
                return IndexTerms(digest(shape + floats), shape_hash, stored.floats)
        return index_terms(new.name, new.version, new.arguments)

    def _old_shape(self, record: LazyRecord, stored: bytes) -> tuple | None:
        if stored not in self._old:
            plain, _floats = plain_arguments(decode(record.stored_entry("arguments")))
            # Name and version as stored: `record` may have changed in place.
            name = decode(record.stored_entry("name"))
            version = decode(record.stored_entry("version"))
            shape = shape_bytes(name, version, plain)
            self._old[stored] = (shape, plain) if digest(shape) == stored else None
        return self._old[stored]


def make_strategy(
    store: BaseStore,
    record: Record,
    selectors: Iterable[MigrationSelector] | None = None,
    shapes: ShapeCache | None = None,
) -> MigrationStrategy | None:
    """The migrations that apply to `record`, in order; None if none do.

    Builds the strategy by applying the migrations in memory (a migration
    may only match after an earlier one has run). A migration that raises
    makes a MigrationError naming the record and the migration. Each step is
    compared entry by entry with the one before (`diff_entries`), so only
    what a migration touched is encoded, decoded and flattened again.
    """
    selectors = list(migration_selectors() if selectors is None else selectors)
    shapes = ShapeCache() if shapes is None else shapes
    done = applied_migrations(store, record) if record.parent else set()
    uid, parent = record.uid, record.oid
    strategy = MigrationStrategy(record, [])
    current, before = record, None
    for _ in range(MAX_STEPS):
        for item in selectors:
            migration = item.migration
            if migration.uid in done or not item.selector(current):
                continue
            if before is None:
                before = _stored_or_encoded(current)
            try:
                new = migration(current)  # may change `current` in place
            except Exception as err:
                raise MigrationError(
                    f"migration {migration.uid} ({migration.description}) failed "
                    f"on record {uid}: {type(err).__name__}: {err}"
                ) from err
            after = entry_bytes(new, COMPARED_KEYS)
            changes = diff_entries(before, after)
            new.revision = Revision(
                uid=os.urandom(16).hex(),
                migration=migration.uid,
                description=migration.description,
                changes=[c.to_data() for c in changes],
            )
            terms = shapes.terms(record, new, after["arguments"])
            header = record_header(uid, parent, terms)
            entries = dict(after, revision=encode(new.payload_value("revision")))
            parent, data = record_object(header, entries)
            done.add(migration.uid)
            strategy.migrations.append(migration)
            strategy.revisions.append((parent, data))
            strategy.changes.append(changes)
            strategy.terms = terms
            current, before = new, after
            break
        else:
            break
    return strategy if strategy.migrations else None


# What a migration's change list compares: every payload entry but the
# revision itself.
COMPARED_KEYS = tuple(key for key in PAYLOAD_KEYS if key != "revision")


def _stored_or_encoded(record: Record) -> dict[str, bytes]:
    """The entries of a Record as read from the store, before any migration."""
    if isinstance(record, LazyRecord):
        stored = record.stored_entries(COMPARED_KEYS)
        if stored is not None:
            return stored
    return entry_bytes(record, COMPARED_KEYS)


def write_revisions(batch, strategy: MigrationStrategy) -> ObjectId:
    """Write and index the strategy's revisions; returns the newest one's id.

    The newest revision is indexed here, before its ref moves (the ref is
    the commit point), so `set_ref(..., index=False)` can move it.
    """
    for _oid, data in strategy.revisions:
        batch.add_raw(data)
    batch.index_add(strategy.record.uid, strategy.terms)
    return strategy.revisions[-1][0]


def apply_strategy(store: BaseStore, strategy: MigrationStrategy) -> Record:
    """Migrate one Record: new revisions, then one compare-and-swap of its ref."""
    head = write_revisions(store, strategy)
    store.set_ref(strategy.record.uid, head, expected=strategy.record.oid, index=False)
    return Record.from_stored(store.get(head))


@dataclass
class MigrationPlan:
    """What migrating a store found (and, applied, did), without its Records.

    Counts Records by strategy (the uids of its migrations, in order) and
    keeps the failures' messages, but no Record: it stays small however
    many Records migrate. Applying fills in `migrated` and `conflicts`.
    """

    selectors: list[MigrationSelector] = field(default_factory=list)
    counts: dict[tuple[str, ...], list] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    migrated: int = 0
    conflicts: int = 0

    @property
    def total(self) -> int:
        """Records that migrations apply to."""
        return sum(count for _description, count in self.counts.values())

    def add(self, strategy: MigrationStrategy) -> None:
        entry = self.counts.setdefault(strategy.key, [strategy.description, 0])
        entry[1] += 1

    def groups(self) -> list[tuple[str, int]]:
        """(strategy description, number of Records), most common first."""
        return sorted(((d, n) for d, n in self.counts.values()), key=lambda x: -x[1])


BATCH_SIZE = 4096  # Records written in one pack, whose refs then move together


def plan_migrations(
    store: BaseStore, selectors: Iterable[MigrationSelector] | None = None
) -> MigrationPlan:
    """How many Records each strategy would migrate (a dry run).

    One pass over the refs; each strategy is counted and dropped.
    """
    plan = _new_plan(selectors)
    with collector_paused() as collect:
        for _strategy in _strategies(store, plan, collect):
            pass
    return plan


def apply_migrations(
    store: BaseStore,
    selectors: Iterable[MigrationSelector] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> MigrationPlan:
    """Plan and apply in one pass over the refs, `batch_size` Records at a time.

    Only one batch of strategies is in memory at once. `progress` is told
    how many Records each batch held.
    """
    return _apply(store, _new_plan(selectors), progress, batch_size)


def apply_plan(
    store: BaseStore,
    plan: MigrationPlan,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> MigrationPlan:
    """Apply what `plan_migrations` planned, with the plan's selectors.

    The plan holds no Record, so each is planned again from its head as it
    is now (one pass, as `apply_migrations`); the plan's counts and failures
    then tell what this pass found.
    """
    plan.counts.clear()
    plan.failures.clear()
    return _apply(store, plan, progress, batch_size)


def _new_plan(selectors: Iterable[MigrationSelector] | None) -> MigrationPlan:
    return MigrationPlan(
        list(migration_selectors() if selectors is None else selectors)
    )


def _strategies(
    store: BaseStore, plan: MigrationPlan, collect: Callable[[], int]
) -> Iterator[MigrationStrategy]:
    """The strategy of each Record the plan's selectors migrate, counted in
    the plan as it goes; failures go into the plan too.

    Records are read lazily (`read_record`): a migration that changes the
    version and leaves the arguments alone never builds their Atoms.
    """
    shapes = ShapeCache()
    for count, (_uid, oid) in enumerate(store.iter_refs(), 1):
        if count % COLLECT_EVERY == 0:
            collect()
        record = read_record(store, oid)
        if record is None:
            continue
        try:
            strategy = make_strategy(store, record, plan.selectors, shapes)
        except MigrationError as err:
            plan.failures.append(str(err))
            continue
        if strategy is not None:
            plan.add(strategy)
            yield strategy


def _apply(store, plan: MigrationPlan, progress, batch_size: int) -> MigrationPlan:
    """Write the strategies' revisions and move the refs, batch by batch.

    A batch's objects are written in one pack (one fsync); only then do the
    refs move, each with compare-and-swap from the head it was planned from
    (`move_refs`: a few files per batch). Killed at any moment, the store
    holds old refs or new ones, never a ref to a missing object; a Record
    another process migrated meanwhile counts as a conflict and is skipped.
    """
    with collector_paused() as collect:
        strategies = _strategies(store, plan, collect)
        while chunk := list(islice(strategies, batch_size)):
            with store.bulk() as batch:
                heads = [write_revisions(batch, strategy) for strategy in chunk]
            moves = [
                (strategy.record.uid, head, strategy.record.oid)
                for strategy, head in zip(chunk, heads, strict=True)
            ]
            del chunk, heads  # the batch's Records go before the next batch's
            moved = store.move_refs(moves)
            plan.migrated += sum(moved)
            plan.conflicts += len(moved) - sum(moved)
            if progress:
                progress(len(moved))
            collect()
    return plan
