"""A fetch compares only the heads that changed since the last one."""

from __future__ import annotations

from asr.core import transfer
from asr.store.pack import gc
from asr.store.remoterefs import heads_of, ref_listing

from .conftest import assert_clean, revise
from .project import add, heads
from .test_mirror import packed_store


def bulk_add(store, first: int, count: int) -> None:
    from asr.store import IndexTerms, digest

    with store.bulk() as writer:
        for i in range(first, first + count):
            terms = IndexTerms(digest(b"%d" % i), digest(b"test"), [float(i)])
            writer.commit({"i": i, "dependencies": []}, index=terms)


def test_pull_compares_only_what_is_new(tmp_path):
    a = packed_store(tmp_path / "a")  # 60 Records in 3 refs tables
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    bulk_add(a, 1000, 3)  # a new table
    add(a, ["logged"])  # 2 refs in a commit log
    report = transfer.pull(b, "origin")
    assert len(report.refs.created) == 5
    assert report.refs.same == []  # the 60 old heads were not compared
    assert report.heads == 65 and heads(b) == heads(a)
    again = transfer.pull(b, "origin")
    assert again.objects == 0 and len(again.refs.same) == 2  # the logged ones
    gc(a, background=False)  # the remote merges its tables and logs
    after = transfer.pull(b, "origin")
    assert after.objects == 0 and len(after.refs.same) <= 2
    assert heads(b) == heads(a)
    assert_clean(a, b)


def test_a_pull_after_a_fetch_applies_what_the_fetch_brought(tmp_path):
    a = packed_store(tmp_path / "a", batches=1)
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    bulk_add(a, 1000, 4)
    uid = next(iter(heads(b)))
    head = a.head(uid)  # a revision: a loose ref moves a packed one on
    newer = a.commit({**head.payload, "note": 1}, uid=uid, parent=head.oid).oid
    fetched = transfer.fetch(b, "origin")
    assert fetched.objects == 5 and heads(b)[uid] != newer
    pulled = transfer.pull(b, "origin")
    assert pulled.objects == 0 and len(pulled.refs.created) == 4
    assert pulled.refs.forwarded == [uid] and heads(b) == heads(a)
    assert_clean(a, b)


def test_known_tables_are_not_sent_again(tmp_path):
    a = packed_store(tmp_path / "a", batches=2)
    first = ref_listing(a, [])
    assert len(first["tables"]) == 2 and set(first["data"]) == set(first["tables"])
    assert first["rest"] == {}
    add(a, ["x"])
    second = ref_listing(a, first["tables"])
    assert second["data"] == {} and len(second["rest"]) == 2


def test_heads_of_many_refs_read_them_as_get_ref_does(tmp_path):
    """Many uids are read in one pass over the store's refs (as between gcs,
    when the commit logs hold most of them): the same heads as one
    `get_ref` each, through tables, logs, loose refs and tombstones."""
    store = packed_store(tmp_path / "a", batches=2)  # 40 refs in 2 tables
    add(store, [f"t{i}" for i in range(40)])  # 80 refs in a commit log
    logged = sorted(store._log.refs)[:2]
    packed = sorted(set(heads(store)) - set(store._log.refs))[:2]
    for uid in (packed[0], logged[0]):
        revise(store, uid, "newer")  # a loose ref moves it on
    store.delete_ref(packed[1])  # tombstones
    store.delete_ref(logged[1])
    uids = [*heads(store), packed[1], logged[1], "0" * 32]
    expected = {uid: store.get_ref(uid) for uid in uids}
    assert len(uids) >= 64 and expected[packed[1]] is None
    assert heads_of(store, uids) == expected  # one pass
    assert heads_of(store, uids[:10]) == {u: expected[u] for u in uids[:10]}
