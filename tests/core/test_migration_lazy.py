"""Migrations on lazily read Records give what reading them whole gives."""

import numpy as np
import pytest
from ase import Atoms
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.core import Dependency, Record, instruction
from asr.core.arguments import _plain, index_terms
from asr.core.migration import (
    Migration,
    MigrationSelector,
    Selector,
    ShapeCache,
    apply_plan,
    make_strategy,
    plan_migrations,
)
from asr.core.rawrecord import LazyRecord, read_record, record_object, split_record
from asr.store import digest, encode
from asr.store.objects import encode_object


@instruction("test.lazy", version=0)
def relaxed(atoms: Atoms, fmax: float = 0.05):
    return {"energy": float(atoms.positions.sum()), "forces": np.zeros((2, 3))}


def molecule(d: float = 0.74) -> Atoms:
    return Atoms("H2", positions=[[0, 0, 0], [0, 0, d]], cell=[5, 5, 5])


def bump(record):
    record.version = 1
    return record


def stretch(record):
    record.arguments["atoms"].positions[1, 2] += 0.01
    record.version = 1
    return record


def note(record):
    record.result["note"] = "checked"
    record.metadata["checked"] = True
    return record


def rules(*functions):
    return [
        MigrationSelector(
            Selector(name="test.lazy", version=0)
            if i == 0
            else Selector(name="test.lazy"),
            Migration(f"m{i}", function.__name__, function),
        )
        for i, function in enumerate(functions)
    ]


def changes(strategy):
    return [
        [(c.kind, c.path, encode(c.old), encode(c.new)) for c in step]
        for step in strategy.changes
    ]


def whole(store, oid) -> Record:
    return Record.from_stored(store.get(oid))


@pytest.mark.parametrize(
    "functions", [(bump,), (stretch,), (note,), (bump, note), (stretch, note)]
)
def test_lazy_strategy_is_the_whole_strategy(store, functions):
    record = relaxed(molecule())
    selectors = rules(*functions)
    lazy = make_strategy(store, read_record(store, record.oid), selectors)
    full = make_strategy(store, whole(store, record.oid), selectors)
    assert changes(lazy) == changes(full)
    assert lazy.terms == full.terms
    # Same bytes but for the revisions' random uids: compare decoded.
    for (_a, data_a), (_b, data_b) in zip(lazy.revisions, full.revisions, strict=True):
        a, b = split_record(_a, data_a), split_record(_b, data_b)
        assert encode(a.header["index"]) == encode(b.header["index"])
        assert a.header["uid"] == b.header["uid"] == record.uid
        assert {k: v for k, v in a.entries.items() if k != "revision"} == {
            k: v for k, v in b.entries.items() if k != "revision"
        }


def test_untouched_entries_are_never_decoded(store):
    record = relaxed(molecule())
    lazy = read_record(store, record.oid)
    assert isinstance(lazy, LazyRecord)
    make_strategy(store, lazy, rules(bump))
    assert set(lazy.untouched()) == {"arguments", "result", "metadata", "dependencies"}
    assert lazy.version == 1


def test_migrated_record_hits_the_cache_with_derived_terms(store):
    old = relaxed(molecule(0.75))
    apply_plan(store, plan_migrations(store, rules(bump)))
    calls = []

    @instruction("test.lazy", version=1)
    def relaxed_v1(atoms: Atoms, fmax: float = 0.05):
        calls.append(1)
        return {}

    assert relaxed_v1(molecule(0.75)).uid == old.uid and calls == []
    assert store.head(old.uid).index == index_terms(
        "test.lazy", 1, {"atoms": molecule(0.75), "fmax": 0.05}
    )


def test_stored_terms_that_do_not_check_out_are_recomputed(store):
    record = relaxed(molecule())
    stored = store.get(record.oid).index
    other = index_terms("test.lazy", 0, {"atoms": molecule(1.0), "fmax": 0.05})
    expected = index_terms("test.lazy", 1, {"atoms": molecule(), "fmax": 0.05})
    for wrong in (
        type(other)(stored.exact, stored.shape, other.floats),  # floats
        type(other)(stored.exact, other.exact, stored.floats),  # shape
        None,
    ):
        lazy = read_record(store, record.oid)
        lazy.stored_terms = wrong
        strategy = make_strategy(store, lazy, rules(bump), ShapeCache())
        assert strategy.terms == expected


def record_terms(store, record):
    return store.get(record.oid).index


def test_record_object_is_the_canonical_object():
    record = Record(
        "x",
        3,
        {"atoms": molecule(), "k": (1, 2.5), "n": np.arange(3)},
        {"a": [1, 2.0, None], "b": {"c": np.float32(1.5)}},
        metadata={"host": "h"},
        dependencies=[Dependency("ab" * 16, "cd" * 16)],
    )
    header = {"uid": None, "parent": None, "index": None}
    entries = {key: encode(value) for key, value in record.to_payload().items()}
    assert record_object(header, entries) == encode_object(
        "record", header, record.to_payload()
    )


plain_values = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.text(max_size=4),
        st.booleans(),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text("ab", max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text("xyz", min_size=1, max_size=2), plain_values))
def test_index_terms_hash_the_encoded_triple(arguments):
    terms = index_terms("n", 2, arguments)
    floats: list = []
    assert terms.shape == digest(encode(["n", 2, _plain(arguments, floats)]))


class Node:
    """Something to make a reference cycle of."""


def test_planning_leaves_the_garbage_collector_as_it_was(store, monkeypatch):
    import gc
    import weakref

    import asr.core.migration as migration

    monkeypatch.setattr(migration, "COLLECT_EVERY", 2)
    for d in (0.7, 0.8, 0.9, 1.0, 1.1):
        relaxed(molecule(d))
    made = []

    def cyclic(record):  # garbage in a cycle: still collected while planning
        node = Node()
        node.me = node
        made.append(weakref.ref(node))
        return bump(record)

    plan = plan_migrations(store, rules(cyclic))
    assert plan.total == 5 and gc.isenabled()
    assert made[0]() is None
    gc.disable()
    try:
        plan_migrations(store, rules(cyclic))
        assert not gc.isenabled()
    finally:
        gc.enable()


leaves = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans(), st.none())
trees = st.dictionaries(
    st.text("abc", min_size=1, max_size=2),
    st.one_of(
        leaves,
        st.dictionaries(st.text("xyz", min_size=1, max_size=2), leaves, max_size=3),
    ),
    min_size=1,  # as a Record's payload: never empty
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(trees, trees)
def test_diff_of_entries_is_the_diff(a, b):
    from asr.core.diff import diff, diff_entries

    by_entry = diff_entries(
        {k: encode(v) for k, v in a.items()}, {k: encode(v) for k, v in b.items()}
    )
    assert [(c.kind, c.path) for c in by_entry] == [
        (c.kind, c.path) for c in diff(a, b)
    ]
