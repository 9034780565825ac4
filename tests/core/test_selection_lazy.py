"""Selections decode only what they must: a Result is built (by the codec,
through its class) only for a Record that fits the cheap keys and is read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from asr.core import Result, instruction, use_store
from asr.core.cache import all_records, select
from asr.core.selection import SelectionError, parse_selection
from asr.core.selection import select as select_words
from asr.store import init_store
from asr.store.pack import gc

BUILT = []  # one entry per Result the codec (or a call) constructed


@dataclass
class Counted(Result):
    value: float

    def __post_init__(self):
        BUILT.append(self.value)


@instruction("lazy.counted")
def counted(x: float) -> Counted:
    return Counted(x)


@instruction("lazy.other")
def other(y: float) -> dict:
    return {"y": y}


@pytest.fixture(params=["packed", "logged"])
def store(tmp_path, monkeypatch, request):
    """Counted Records in tree/a (x 0, 1, 2) and tree/b (x 10, 11, 12),
    other Records in tree/a."""
    store = init_store(tmp_path)
    with use_store(store):
        for first, folder in [(0, "tree/a"), (10, "tree/b")]:
            (tmp_path / folder).mkdir(parents=True)
            monkeypatch.chdir(tmp_path / folder)
            for x in range(first, first + 3):
                counted(float(x))
        monkeypatch.chdir(tmp_path / "tree/a")
        for y in range(3):
            other(float(y))
    if request.param == "packed":
        gc(store, background=False)
    BUILT.clear()
    return store


def test_a_selection_by_name_builds_no_result_of_other_records(store):
    found = select(store, name="lazy.other")
    assert len(found) == 3
    assert BUILT == []
    assert sorted(r.result["y"] for r in found) == [0.0, 1.0, 2.0]
    assert BUILT == []


def test_results_are_built_only_for_what_fits_and_is_read(store):
    found = select(store, name="lazy.counted", folder="tree/b", x=11)
    assert BUILT == []  # x is an argument: the result is not needed to match
    (record,) = found
    assert record.result.value == 11.0
    assert BUILT == [11.0]


def test_a_result_key_decodes_only_records_that_fit_the_fixed_keys(store):
    found = select(store, name="lazy.counted", folder="tree/a", value=2)
    assert [r.result.value for r in found] == [2.0]
    assert sorted(BUILT) == [0.0, 1.0, 2.0]  # tree/a's three, not tree/b's


def test_lazy_records_list_as_records_do(store):
    records = sorted(all_records(store), key=lambda r: (r.name, r.created))
    assert [r.name for r in records] == ["lazy.counted"] * 6 + ["lazy.other"] * 3
    assert {r.metadata_entry("directory") for r in records} == {"tree/a", "tree/b"}
    assert all(r.uid and r.oid and store.get_ref(r.uid) == r.oid for r in records)
    assert all(r.parent is None and r.revision is None for r in records)


def test_unknown_keys_are_checked_against_the_records_that_fit(store):
    words = ["name=lazy.other", "x=1"]  # x: an argument of lazy.counted only
    with pytest.raises(SelectionError, match="no Record with name=lazy.other has"):
        select_words(all_records(store), parse_selection(words))
    assert BUILT == []  # only lazy.other's Records were looked at
    # Nothing fits the name: nothing to check x against, and nothing found.
    words = ["name=lazy.nothing", "xx=1"]
    assert select_words(all_records(store), parse_selection(words)) == []
    with pytest.raises(SelectionError, match="unknown key 'xx'"):
        select_words(all_records(store), parse_selection(["xx=1"]))


def test_bulk_reads_give_what_single_reads_give(store, tmp_path):
    oids = [oid for _, oid in store.iter_refs()]
    oids += [oid for oid in oids[:2]]  # asked twice: read twice
    many = list(store.get_many_bytes(oids))
    assert sorted(oid for oid, _ in many) == sorted(oids)
    assert all(data == store.get_bytes(oid) for oid, data in many)
