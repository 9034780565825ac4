"""Migrations: chains, failures, reruns, cache hits after migrating."""

import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.core import Record, instruction
from asr.core.diff import diff
from asr.core.migration import (
    Migration,
    MigrationError,
    MigrationSelector,
    Selector,
    apply_migrations,
    apply_plan,
    make_strategy,
    plan_migrations,
)


def make_gap(version):
    @instruction("test.gap", version=version)
    def gap(x: float):
        return {"gap": x, "unit": "eV"} if version == 0 else {"band_gap": x}

    return gap


def rename_gap(record: Record) -> Record:
    record.result["band_gap"] = record.result.pop("gap")
    record.version = 1
    return record


def drop_unit(record: Record) -> Record:
    del record.result["unit"]
    record.version = 2
    return record


CHAIN = [
    MigrationSelector(
        Selector(name="test.gap", version=0),
        Migration("gap-0-1", "Rename gap to band_gap", rename_gap),
    ),
    MigrationSelector(
        Selector(name="test.gap", version=1),
        Migration("gap-1-2", "Drop unit", drop_unit),
    ),
]


def test_chain_of_migrations(store):
    old = make_gap(0)(1.5)
    strategy = make_strategy(store, old, CHAIN)
    assert [m.uid for m in strategy.migrations] == ["gap-0-1", "gap-1-2"]
    plan = plan_migrations(store, CHAIN)
    assert plan.groups() == [("Rename gap to band_gap -> Drop unit", 1)]
    apply_plan(store, plan)
    assert plan.migrated == 1

    head = Record.from_stored(store.head(old.uid))
    assert head.version == 2 and head.result == {"band_gap": 1.5}
    chain = list(store.log(old.uid))
    assert [o.oid for o in chain][-1] == old.oid  # the old revision stays
    assert Record.from_stored(chain[-1]).result == {"gap": 1.5, "unit": "eV"}
    # The middle revision is what the first migration made, even though the
    # second one changed the same Record object in place afterwards.
    middle = Record.from_stored(chain[1])
    assert middle.version == 1 and middle.result == {"band_gap": 1.5, "unit": "eV"}
    assert [c["path"] for c in middle.revision.changes] == [
        "result.band_gap",
        "result.gap",
        "version",
    ]
    revision = head.revision
    assert revision.migration == "gap-1-2"
    assert {(c["kind"], c["path"]) for c in revision.changes} == {
        ("removed", "result.unit"),
        ("changed", "version"),
    }
    # A rerun finds nothing to do; the migrated Record hits the cache.
    assert plan_migrations(store, CHAIN).total == 0
    calls = []

    @instruction("test.gap", version=2)
    def gap_v2(x: float):
        calls.append(x)
        return {"band_gap": x}

    assert gap_v2(1.5).uid == old.uid and calls == []


def test_migration_never_applied_twice(store):
    record = make_gap(0)(2.0)
    loop = [
        MigrationSelector(
            Selector(name="test.gap"), Migration("touch", "Touch", lambda r: r)
        )
    ]
    plan = plan_migrations(store, loop)
    assert plan.counts == {("touch",): ["Touch", 1]}
    apply_plan(store, plan)
    assert plan_migrations(store, loop).total == 0
    assert len(list(store.log(record.uid))) == 2


def test_failing_migration_leaves_record(store):
    record = make_gap(0)(1.0)

    def broken(r):
        raise KeyError("band_gap")

    bad = [
        MigrationSelector(
            Selector(name="test.gap"), Migration("broken", "Broken", broken)
        )
    ]
    with pytest.raises(MigrationError, match=f"broken.*{record.uid}"):
        make_strategy(store, record, bad)
    plan = plan_migrations(store, bad)
    assert len(plan.failures) == 1 and "broken" in plan.failures[0]
    assert store.get_ref(record.uid) == record.oid


def test_unmigratable_records_are_recomputed(store):
    make_gap(0)(3.0)
    calls = []

    @instruction("test.gap", version=5)
    def gap_v5(x: float):
        calls.append(x)
        return {"band_gap": x}

    gap_v5(3.0)
    assert calls == [3.0]


MIGRATE_SCRIPT = textwrap.dedent(
    """
    from asr.core.migration import (
        Migration, MigrationSelector, Selector, apply_migrations
    )
    from asr.store import open_store

    def bump(r):
        r.version = 1
        return r

    store = open_store(".")
    bumps = MigrationSelector(Selector(version=0), Migration("bump", "Bump", bump))
    plan = apply_migrations(store, [bumps], batch_size=7)
    print(plan.migrated, plan.conflicts)
    """
)


def test_concurrent_migrate_from_two_processes(store, tmp_path):
    gap = make_gap(0)
    uids = [gap(float(i)).uid for i in range(60)]
    script = tmp_path / "migrate.py"
    script.write_text(MIGRATE_SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    store.refresh()
    for uid in uids:
        chain = list(store.log(uid))
        assert len(chain) == 2 and chain[0].payload["version"] == 1
    migrated = sum(int(m) for m, _ in results)
    assert migrated == 60  # each record moved exactly once


leaves = st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())
trees = st.dictionaries(
    st.text("abc", min_size=1, max_size=2),
    st.one_of(
        leaves,
        st.dictionaries(st.text("xyz", min_size=1, max_size=2), leaves, max_size=3),
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(trees, trees)
def test_change_list_is_exactly_what_differs(a, b):
    changes = diff(a, b)
    from asr.core.diff import flatten

    fa, fb = flatten(a), flatten(b)
    removed = {c.path for c in changes if c.kind == "removed"}
    added = {c.path for c in changes if c.kind == "added"}
    changed = {c.path for c in changes if c.kind == "changed"}
    assert removed == fa.keys() - fb.keys()
    assert added == fb.keys() - fa.keys()
    assert changed == {
        p
        for p in fa.keys() & fb.keys()
        if fa[p] != fb[p] or type(fa[p]) is not type(fb[p])
    }
    assert (changes == []) == (fa == fb and all(type(fa[p]) is type(fb[p]) for p in fa))


def test_result_class_changed_comes_back_as_data_for_a_migration(store):
    import dataclasses

    from asr.core import Result, key
    from asr.store import Tagged

    @dataclasses.dataclass
    class ChangingResult(Result):
        gap: float = dataclasses.field(metadata=key("Gap", "eV"))

    @instruction("test.changing", version=0)
    def old(x: float):
        return ChangingResult(gap=x)

    record = old(1.0)

    @dataclasses.dataclass
    class ChangingResult(Result):  # noqa: F811  (the recipe changed)
        band_gap: float = dataclasses.field(metadata=key("Band gap", "eV"))

    stored = Record.from_stored(store.head(record.uid))
    assert isinstance(stored.result, Tagged) and stored.result.data == {"gap": 1.0}

    def convert(r):
        r.result = ChangingResult(band_gap=r.result.data["gap"])
        r.version = 1
        return r

    fix = [
        MigrationSelector(
            Selector(name="test.changing", version=0),
            Migration("changing-0-1", "Rename gap", convert),
        )
    ]
    apply_plan(store, plan_migrations(store, fix))
    assert Record.from_stored(store.head(record.uid)).result == ChangingResult(1.0)


def bulk_records(store, count: int) -> list[str]:
    """`count` version-0 Records, written at once."""
    from asr.core.arguments import index_terms

    uids = []
    with store.bulk() as batch:
        for i in range(count):
            arguments = {"x": float(i)}
            record = Record("test.gap", 0, arguments, {"gap": float(i)})
            terms = index_terms("test.gap", 0, arguments)
            uids.append(batch.commit(record.to_payload(), index=terms).uid)
    return uids


def test_applying_holds_one_batch_of_strategies(store, monkeypatch):
    import weakref

    import asr.core.migration as migration

    made, alive = [], []

    def make_strategy(*args):
        strategy = migration_make_strategy(*args)
        made.append(weakref.ref(strategy))
        alive.append(sum(ref() is not None for ref in made))
        return strategy

    migration_make_strategy = migration.make_strategy
    monkeypatch.setattr(migration, "make_strategy", make_strategy)
    bulk_records(store, 40)
    plan = apply_migrations(store, CHAIN[:1], batch_size=8)
    assert plan.migrated == 40 and plan.groups() == [("Rename gap to band_gap", 40)]
    assert max(alive) == 8  # one batch at a time


@pytest.mark.slow
def test_migrate_killed_at_random_moments(store, tmp_path):
    import random
    import signal
    import time

    from asr.store.fsck import fsck

    uids = bulk_records(store, 3000)
    script = tmp_path / "migrate.py"
    script.write_text(MIGRATE_SCRIPT)
    rng = random.Random(0)
    for _round in range(3):
        process = subprocess.Popen(
            [sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE
        )
        time.sleep(rng.uniform(1.0, 3.0))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        store.refresh()
        report = fsck(store)
        assert report.ok, report.errors
    rerun = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    store.refresh()
    for uid in uids:
        chain = list(store.log(uid))
        assert len(chain) == 2 and chain[0].payload["version"] == 1
    assert plan_migrations(store, []).total == 0
    assert fsck(store).ok
