"""fsck checks that every head's exact key finds it in the index, for all
heads at once (`index_lacks`), and `--repair` puts back what is missing."""

from __future__ import annotations

from asr.store import IndexTerms, digest, init_store
from asr.store.fsck import fsck


def terms(i: int) -> IndexTerms:
    return IndexTerms(digest(b"%d" % i), digest(b"shape"), [float(i)])


def test_index_lacks_agrees_with_index_uids(tmp_path):
    store = init_store(tmp_path)
    with store.bulk() as writer:  # index segments
        bulk = [writer.commit({"i": i}, index=terms(i)) for i in range(50)]
    logged = [store.commit({"i": i}, index=terms(i)) for i in range(50, 60)]
    pairs = [(terms(i).exact, r.uid) for i, r in enumerate(bulk + logged)]
    assert store.index_lacks(pairs) == []
    for exact, uid in pairs:
        assert uid in store.index_uids(exact)
    wrong_key = (terms(999).exact, bulk[3].uid)
    wrong_uid = (terms(4).exact, logged[0].uid)
    odd_key = (b"short", bulk[5].uid)
    lacking = store.index_lacks([*pairs, wrong_key, wrong_uid, odd_key])
    assert sorted(lacking) == sorted([bulk[3].uid, logged[0].uid, bulk[5].uid])


def test_heads_missing_from_the_index_are_found_and_repaired(tmp_path):
    store = init_store(tmp_path)
    with store.bulk() as writer:
        records = [writer.commit({"i": i}, index=terms(i)) for i in range(20)]
    for segment in store.index_dir.glob("packed/*"):
        segment.unlink()  # the index is derived: rebuilt, not lost
    store.refresh()
    report = fsck(store)
    assert sorted(report.missing_from_index) == sorted(r.uid for r in records)
    assert any("20 records are missing from the index" in e for e in report.errors)
    fsck(store, repair=True)
    store.refresh()
    assert fsck(store).ok and not fsck(store).missing_from_index
    assert [r.uid for r in store.find(terms(7).exact)] == [records[7].uid]
