"""One contract, every backend: what any `BaseStore` must do.

The same tests run against a `MemoryStore`, a `DiskStore` with loose
objects, a `DiskStore` whose objects were packed by `gc` (and reopened), and
a `DiskStore` written through `store.bulk()`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np
import pytest

from asr.store import (
    AmbiguousIdError,
    BaseStore,
    DiskStore,
    IndexTerms,
    LockTimeoutError,
    MemoryStore,
    ObjectId,
    ObjectNotFoundError,
    RefConflictError,
    StoreError,
    Uid,
    digest,
    hash_bytes,
    init_store,
)
from asr.store.objects import encode_object, record_header
from asr.store.pack import gc


def terms(exact: str, shape: str = "shape", floats=(1.0,)) -> IndexTerms:
    """Index terms named by readable strings."""
    return IndexTerms(digest(exact.encode()), digest(shape.encode()), floats)


class Backend:
    """A store plus the way this backend gets data written into it."""

    def __init__(self, kind: str, path):
        self.kind = kind
        self.root = path / ".asr"
        self.store: BaseStore = MemoryStore() if kind == "memory" else init_store(path)

    @contextmanager
    def writing(self) -> Iterator[BaseStore]:
        """Yield what to write through; afterwards `self.store` sees it all."""
        if self.kind == "bulk":
            with self.store.bulk() as writer:
                yield writer
            self.store = DiskStore(self.root)
            return
        yield self.store
        if self.kind == "packed":
            gc(self.store)
            self.store = DiskStore(self.root)
            assert list(self.store.iter_loose_object_ids()) == []

    def wipe_index(self) -> None:
        """Lose the whole index (it is derived data)."""
        if isinstance(self.store, MemoryStore):
            self.store._exact.clear()
            self.store._shape.clear()
            return
        # Commit logs carry index entries along with objects and refs: fold
        # them into packs first, then lose the index segments.
        gc(self.store)
        shutil.rmtree(self.root / "index" / "packed")
        (self.root / "index" / "packed").mkdir()
        self.store = DiskStore(self.root)


@pytest.fixture(params=["memory", "loose", "packed", "bulk"])
def backend(request, tmp_path) -> Backend:
    return Backend(request.param, tmp_path)


@cache
def colliding_blobs() -> tuple[bytes, bytes]:
    """Two blobs whose ids share their first four hex digits."""
    seen: dict[str, bytes] = {}
    for i in range(100_000):
        data = f"blob {i}".encode()
        oid, _ = encode_object("blob", {}, data)
        if oid[:4] in seen:
            return seen[oid[:4]], data
        seen[oid[:4]] = data
    raise AssertionError("no collision found")


def uids_of(records) -> set[str]:
    return {r.uid for r in records}


class TestStoreContract:
    # -- objects ------------------------------------------------------------

    def test_put_and_get_blob(self, backend):
        data = bytes(range(256)) * 10
        with backend.writing() as w:
            oid = w.put_blob(data)
        store = backend.store
        assert isinstance(oid, ObjectId)
        assert store.has(oid)
        assert store.get_blob(oid) == data
        obj = store.get(oid)
        assert (obj.oid, obj.kind, obj.payload) == (oid, "blob", data)
        assert hash_bytes(store.get_raw(oid)) == oid

    def test_put_is_idempotent(self, backend):
        with backend.writing() as w:
            first = w.put_blob(b"same bytes")
            assert w.put_blob(b"same bytes") == first
            other = w.put_object("blob", {}, b"other bytes")
        count = len(list(backend.store.iter_object_ids()))
        with backend.writing() as w:
            assert w.put_blob(b"same bytes") == first
            w.put_blob(b"new bytes")
        count += 1
        with backend.writing() as w:
            assert w.put_object("blob", {}, b"other bytes") == other
        ids = list(backend.store.iter_object_ids())
        assert len(ids) == len(set(ids)) == count
        assert backend.store.get_blob(first) == b"same bytes"

    def test_missing_object(self, backend):
        missing = hash_bytes(b"never stored")
        assert not backend.store.has(missing)
        with pytest.raises(ObjectNotFoundError):
            backend.store.get(missing)
        with pytest.raises(KeyError):  # ObjectNotFoundError is also a KeyError
            backend.store.get_blob(missing)

    def test_get_blob_of_a_record_is_an_error(self, backend):
        with backend.writing() as w:
            record = w.commit({"x": 1})
        with pytest.raises(StoreError, match="not a blob"):
            backend.store.get_blob(record.oid)

    # -- records and revisions ---------------------------------------------

    def test_commit_new_record(self, backend):
        payload = {"energy": -1.5, "forces": np.arange(6.0).reshape(2, 3), "n": 3}
        with backend.writing() as w:
            blob = w.put_blob(b"a gpw file")
            record = w.commit({**payload, "file": blob}, index=terms("a"))
        store = backend.store
        assert isinstance(record.uid, Uid)
        assert record.parent is None
        assert store.get_ref(record.uid) == record.oid
        head = store.head(record.uid)
        assert (head.oid, head.kind, head.uid) == (record.oid, "record", record.uid)
        assert head.index == terms("a")
        assert head.payload["energy"] == -1.5
        np.testing.assert_array_equal(head.payload["forces"], payload["forces"])
        assert head.payload["file"] == blob
        assert isinstance(head.payload["file"], ObjectId)
        assert [r.oid for r in store.records()] == [record.oid]

    def test_commit_with_chosen_uid(self, backend):
        uid = Uid("0123456789abcdef" * 2)
        with backend.writing() as w:
            record = w.commit("payload", uid=uid)
        assert record.uid == uid
        assert backend.store.head(uid).payload == "payload"

    def test_revision_chain(self, backend):
        with backend.writing() as w:
            r1 = w.commit({"v": 1}, index=terms("a"))
        with backend.writing() as w:
            r2 = w.commit({"v": 2}, uid=r1.uid, parent=r1.oid, index=terms("a"))
        with backend.writing() as w:
            r3 = w.commit({"v": 3}, uid=r1.uid, parent=r2.oid, index=terms("a"))
        store = backend.store
        assert store.head(r1.uid).oid == r3.oid
        assert [o.oid for o in store.log(r1.uid)] == [r3.oid, r2.oid, r1.oid]
        assert [o.payload["v"] for o in store.log(r2.oid)] == [2, 1]
        assert [o.parent for o in store.log(r1.uid)] == [r2.oid, r1.oid, None]
        assert store.get(r1.oid).payload == {"v": 1}  # old revisions stay
        assert [r.oid for r in store.records()] == [r3.oid]

    def test_stale_parent_is_a_conflict(self, backend):
        with backend.writing() as w:
            r1 = w.commit({"v": 1})
            r2 = w.commit({"v": 2}, uid=r1.uid, parent=r1.oid)
        with backend.writing() as w:
            with pytest.raises(RefConflictError):
                w.commit({"v": "lost"}, uid=r1.uid, parent=r1.oid)
            with pytest.raises(RefConflictError):
                w.commit({"v": "new?"}, uid=r1.uid)  # exists already
            with pytest.raises(RefConflictError):  # no ref yet: parent must be None
                w.commit({"v": 0}, uid=Uid.new(), parent=r1.oid)
            with pytest.raises(RefConflictError):
                w.commit({"v": 0}, parent=r1.oid)
        assert backend.store.head(r1.uid).oid == r2.oid
        assert [r.oid for r in backend.store.records()] == [r2.oid]

    def test_failed_commit_leaves_the_index_of_the_head(self, backend):
        with backend.writing() as w:
            r1 = w.commit(1, index=terms("a", "s", [1.0]))
            r2 = w.commit(2, uid=r1.uid, parent=r1.oid, index=terms("b", "s", [2.0]))
            with pytest.raises(RefConflictError):
                w.commit(3, uid=r1.uid, parent=r1.oid, index=terms("c", "s", [3.0]))
        store = backend.store
        assert [r.oid for r in store.find_similar(digest(b"s"), [2.0])] == [r2.oid]
        assert [r.oid for r in store.find(terms("b").exact)] == [r2.oid]
        assert store.find_similar(digest(b"s"), [3.0]) == []
        assert store.find(terms("c").exact) == []

    def test_set_ref(self, backend):
        with backend.writing() as w:
            r1 = w.commit({"v": 1}, index=terms("a"))
            r2 = w.commit({"v": 2}, uid=r1.uid, parent=r1.oid, index=terms("b"))
            other = w.commit({"other": True})
        store = backend.store
        store.set_ref(r1.uid, r1.oid, expected=r2.oid)  # move back
        assert store.head(r1.uid).oid == r1.oid
        assert uids_of(store.find(terms("a").exact)) == {r1.uid}
        with pytest.raises(RefConflictError):
            store.set_ref(r1.uid, r2.oid, expected=r2.oid)
        with pytest.raises(StoreError, match="not a revision"):
            store.set_ref(r1.uid, other.oid, expected=r1.oid)

    def test_move_refs(self, backend):
        with backend.writing() as w:
            records = [w.commit({"v": i}, index=terms(f"{i}")) for i in range(4)]
        store = backend.store
        fresh = Uid.new()
        heads = {}
        for record in [*records, None]:
            uid = fresh if record is None else record.uid
            parent = None if record is None else record.oid
            heads[uid] = store.put_object(
                "record", record_header(uid, parent, terms(f"new {uid}")), {"v": "new"}
            )
            store.index_add(uid, terms(f"new {uid}"))
        moves = [(r.uid, heads[r.uid], r.oid) for r in records]
        moves[1] = (records[1].uid, heads[records[1].uid], heads[records[1].uid])
        moves.append((fresh, heads[fresh], None))
        assert store.move_refs(moves) == [True, False, True, True, True]
        expected = {uid: heads[uid] for uid in heads}
        expected[records[1].uid] = records[1].oid  # the conflict stayed
        assert dict(store.iter_refs()) == expected
        assert all(store.get_ref(uid) == oid for uid, oid in expected.items())
        assert uids_of(store.find(terms("1").exact)) == {records[1].uid}
        assert uids_of(store.find(terms(f"new {fresh}").exact)) == {fresh}
        assert store.move_refs(moves[:1]) == [False]  # already moved
        # A moved ref moves on as any other, and can be deleted.
        after = store.commit({"v": 3}, uid=records[0].uid, parent=heads[records[0].uid])
        assert store.get_ref(records[0].uid) == after.oid
        store.delete_ref(records[2].uid)
        assert store.get_ref(records[2].uid) is None
        if isinstance(store, DiskStore):
            gc(store)
            store = DiskStore(backend.root)
            assert store.get_ref(records[3].uid) == heads[records[3].uid]

    # -- the index ----------------------------------------------------------

    def test_find_exact(self, backend):
        with backend.writing() as w:
            a1 = w.commit(1, index=terms("a"))
            a2 = w.commit(2, index=terms("a"))
            b = w.commit(3, index=terms("b"))
            w.commit(4)  # not indexed
        store = backend.store
        assert uids_of(store.find(terms("a").exact)) == {a1.uid, a2.uid}
        assert [r.oid for r in store.find(terms("b").exact)] == [b.oid]
        assert store.find(terms("c").exact) == []

    def test_find_similar(self, backend):
        floats = [1.0, 2.5, -3.0]
        with backend.writing() as w:
            hit = w.commit("x", index=terms("a", "s", floats))
            w.commit("y", index=terms("b", "s", [1.0, 2.5, -3.1]))
            w.commit("z", index=terms("c", "t", floats))  # another shape
        store = backend.store
        shape = digest(b"s")
        assert [r.oid for r in store.find_similar(shape, floats)] == [hit.oid]
        near = [1.0 + 1e-12, 2.5, -3.0 - 1e-12]
        assert [r.oid for r in store.find_similar(shape, near)] == [hit.oid]
        assert store.find_similar(shape, [1.0 + 1e-3, 2.5, -3.0]) == []
        assert store.find_similar(shape, [1.0, 2.5]) == []  # other length
        assert store.find_similar(digest(b"unknown"), floats) == []
        loose = store.find_similar(shape, [1.001, 2.5, -3.0], rtol=1e-2)
        assert [r.oid for r in loose] == [hit.oid]

    def test_find_similar_special_floats(self, backend):
        floats = [np.nan, np.inf, -np.inf, 0.0]
        with backend.writing() as w:
            record = w.commit("x", index=terms("a", "s", floats))
        found = backend.store.find_similar(digest(b"s"), floats)
        assert [r.oid for r in found] == [record.oid]
        assert backend.store.find_similar(digest(b"s"), [np.nan, np.inf, 0, 0]) == []

    def test_find_similar_nearest_first(self, backend):
        with backend.writing() as w:
            far = w.commit("far", index=terms("a", "s", [1.0 + 4e-9]))
            near = w.commit("near", index=terms("b", "s", [1.0 + 1e-9]))
        found = backend.store.find_similar(digest(b"s"), [1.0])
        assert [r.oid for r in found] == [near.oid, far.oid]

    @pytest.mark.parametrize("same_shape", [True, False])
    def test_stale_index_entries_are_ignored(self, backend, same_shape):
        new_shape = "s" if same_shape else "s2"
        with backend.writing() as w:
            r1 = w.commit(1, index=terms("a", "s", [1.0]))
            other = w.commit(2, index=terms("a", "s", [1.0]))
        with backend.writing() as w:
            r2 = w.commit(
                3, uid=r1.uid, parent=r1.oid, index=terms("b", new_shape, [2.0])
            )
        store = backend.store
        assert [r.oid for r in store.find(terms("a").exact)] == [other.oid]
        assert [r.oid for r in store.find(terms("b").exact)] == [r2.oid]
        assert uids_of(store.find_similar(digest(b"s"), [1.0])) == {other.uid}
        found = store.find_similar(digest(new_shape.encode()), [2.0])
        assert [r.oid for r in found] == [r2.oid]

    def test_revision_without_index_drops_out(self, backend):
        with backend.writing() as w:
            r1 = w.commit(1, index=terms("a"))
            w.commit(2, uid=r1.uid, parent=r1.oid)
        assert backend.store.find(terms("a").exact) == []
        assert backend.store.find_similar(digest(b"shape"), [1.0]) == []

    def test_reindex_restores_lookups(self, backend):
        with backend.writing() as w:
            r1 = w.commit(1, index=terms("a", "s", [1.0]))
            r2 = w.commit(2, uid=r1.uid, parent=r1.oid, index=terms("b", "s", [2.0]))
            r3 = w.commit(3, index=terms("a", "s", [1.0]))
            w.commit(4)
        backend.wipe_index()
        store = backend.store
        assert store.find(terms("b").exact) == []
        assert store.find_similar(digest(b"s"), [2.0]) == []
        assert store.reindex() == 2
        assert [r.oid for r in store.find(terms("a").exact)] == [r3.oid]
        assert [r.oid for r in store.find(terms("b").exact)] == [r2.oid]
        assert [r.oid for r in store.find_similar(digest(b"s"), [2.0])] == [r2.oid]
        assert r1.uid not in store._index_exact(terms("a").exact)  # stale: gone
        assert store.reindex() == 2  # again: the same

    # -- refs and listings --------------------------------------------------

    def test_delete_ref(self, backend):
        with backend.writing() as w:
            kept = w.commit("kept", index=terms("a"))
            gone = w.commit("gone", index=terms("a"))
        store = backend.store
        store.delete_ref(gone.uid)
        store.delete_ref(Uid.new())  # unknown: harmless
        assert store.get_ref(gone.uid) is None
        with pytest.raises(ObjectNotFoundError):
            store.head(gone.uid)
        assert [r.oid for r in store.find(terms("a").exact)] == [kept.oid]
        assert dict(store.iter_refs()) == {kept.uid: kept.oid}
        assert store.get(gone.oid).payload == "gone"  # the object stays
        with pytest.raises(ObjectNotFoundError):
            store.resolve(gone.uid[:12])
        with backend.writing() as w:  # the uid can be used again
            again = w.commit("again", uid=gone.uid)
        assert backend.store.head(gone.uid).oid == again.oid

    def test_iter_refs_and_object_ids_are_complete(self, backend):
        blobs, heads, revisions = set(), {}, set()
        for round_ in range(2):
            with backend.writing() as w:
                for i in range(5):
                    blob = w.put_blob(f"blob {round_} {i}".encode())
                    record = w.commit({"blob": blob}, index=terms(f"{i}"))
                    revisions.add(record.oid)
                    if i % 2:
                        record = w.commit({"v": 2}, uid=record.uid, parent=record.oid)
                        revisions.add(record.oid)
                    blobs.add(blob)
                    heads[record.uid] = record.oid
        store = backend.store
        refs = list(store.iter_refs())
        assert dict(refs) == heads
        assert len(refs) == len(heads)
        assert all(isinstance(u, Uid) and isinstance(o, ObjectId) for u, o in refs)
        ids = list(store.iter_object_ids())
        assert len(ids) == len(set(ids))
        assert set(ids) == blobs | revisions
        assert all(isinstance(oid, ObjectId) for oid in ids)

    # -- names --------------------------------------------------------------

    def test_resolve_unique_prefix(self, backend):
        with backend.writing() as w:
            blob = w.put_blob(b"some data")
            record = w.commit({"blob": blob})
        store = backend.store
        assert store.resolve(blob) == blob
        assert store.resolve(blob[:10]) == blob
        assert store.resolve(blob[:9].upper()) == blob
        assert store.resolve(f"  {blob[:11]}\n") == blob
        found = store.resolve(record.uid[:10])
        assert found == record.uid and isinstance(found, Uid)
        assert isinstance(store.resolve(record.uid), Uid)
        assert store.resolve(record.oid[:10]) == record.oid
        assert store.resolve_object(record.uid[:10]).oid == record.oid
        assert store.resolve_object(blob[:10]).payload == b"some data"

    def test_resolve_ambiguous_prefix(self, backend):
        data1, data2 = colliding_blobs()
        with backend.writing() as w:
            oid1, oid2 = w.put_blob(data1), w.put_blob(data2)
        store = backend.store
        assert oid1[:4] == oid2[:4]
        with pytest.raises(AmbiguousIdError, match=oid1[:4]) as info:
            store.resolve(oid1[:4])
        assert oid1 in str(info.value) and oid2 in str(info.value)
        common = next(n for n in range(4, 33) if oid1[:n] != oid2[:n])
        assert store.resolve(oid1[:common]) == oid1
        assert store.resolve(oid2[:common]) == oid2

    def test_resolve_uid_and_object_id_may_collide(self, backend):
        with backend.writing() as w:
            blob = w.put_blob(b"x")
            uid = Uid(blob[:6] + "0" * 26)
            record = w.commit("y", uid=uid)
        with pytest.raises(AmbiguousIdError):
            backend.store.resolve(blob[:6])
        assert backend.store.resolve(blob[:7]) in (blob, record.uid)

    @pytest.mark.parametrize("spec", ["abc", "a", "", "~1", "xyz!", "12345g"])
    def test_resolve_rejects_bad_or_short_ids(self, backend, spec):
        with backend.writing() as w:
            w.put_blob(b"x")
        with pytest.raises(ObjectNotFoundError):
            backend.store.resolve(spec)

    def test_resolve_too_short_says_so(self, backend):
        with backend.writing() as w:
            blob = w.put_blob(b"x")
        with pytest.raises(ObjectNotFoundError, match="too short"):
            backend.store.resolve(blob[:3])

    def test_resolve_unknown(self, backend):
        with pytest.raises(ObjectNotFoundError):
            backend.store.resolve("0123456789")
        with pytest.raises(ObjectNotFoundError):
            backend.store.resolve("0" * 32)

    def test_resolve_parent_syntax(self, backend):
        with backend.writing() as w:
            r1 = w.commit(1)
            r2 = w.commit(2, uid=r1.uid, parent=r1.oid)
            r3 = w.commit(3, uid=r1.uid, parent=r2.oid)
        store = backend.store
        uid = r1.uid
        assert store.resolve(f"{uid[:8]}~0") == uid
        assert store.resolve(f"{uid[:8]}~") == r2.oid
        assert store.resolve(f"{uid[:8]}~1") == r2.oid
        assert store.resolve(f"{uid[:8]}~2") == r1.oid
        assert store.resolve(f"{uid[:8]}~~") == r1.oid
        assert store.resolve(f"{uid}~1~1") == r1.oid
        assert store.resolve(f"{r3.oid[:8]}~1") == r2.oid
        assert store.resolve(f"{r2.oid}~1") == r1.oid
        assert store.resolve_object(f"{uid[:8]}~2").payload == 1
        with pytest.raises(ObjectNotFoundError, match="only 3 revisions"):
            store.resolve(f"{uid[:8]}~3")
        with pytest.raises(ObjectNotFoundError):
            store.resolve(f"{r1.oid[:8]}~1")

    # -- locks --------------------------------------------------------------

    def test_lock(self, backend):
        store = backend.store
        with store.lock("asr.gs key"):
            with pytest.raises(LockTimeoutError):
                with store.lock("asr.gs key", timeout=0.05):
                    pass
            with store.lock("another key", timeout=0.05):
                pass
        with store.lock("asr.gs key", timeout=0.05):
            pass
