"""The store interface, and everything above the storage primitives.

`BaseStore` implements the porcelain (put/get, commit a revision, walk a
revision chain, find records by index terms, resolve abbreviated ids) on top
of a few primitives that each backend provides: raw objects by id, refs with
compare-and-swap, index entries, and named locks. `MemoryStore` and
`DiskStore` are the backends; one contract test suite runs against both.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from .errors import (
    AmbiguousIdError,
    ObjectNotFoundError,
    RefConflictError,
    StoreError,
    StoreWarning,
)
from .ids import ObjectId, Uid
from .objects import (
    IndexTerms,
    StoredObject,
    decode_object,
    encode_object,
    verify,
)
from .objects import record_header as _record_header


def _warn(message: str) -> None:
    warnings.warn(message, StoreWarning, stacklevel=3)


MIN_PREFIX = 4
_ID_SPEC = re.compile(r"(?P<base>[0-9a-fA-F]+)(?P<back>(~\d*)*)\Z")

DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10


def close_rows(
    candidates: np.ndarray, floats: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Indices of the rows of `candidates` equal to `floats` within tolerance.

    Returned nearest first. NaN matches NaN; infinities match themselves.
    """
    rows = _close_rows(candidates, floats, rtol, atol)
    if len(rows) > 1:
        rows = rows[np.argsort(_distance(candidates[rows], floats), kind="stable")]
    return rows


def _close_rows(
    candidates: np.ndarray, floats: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """The rows of `close_rows` in their original order.

    Block of columns by block of columns, on the rows still in the running:
    with many candidates few survive the first columns, and with long
    vectors (1,000 atoms) the blocks grow so that numpy does the looping.
    """
    if candidates.shape[0] == 0 or candidates.shape[1] != floats.shape[0]:
        return np.zeros(0, int)
    rows = _likely_rows(candidates, floats, rtol, atol)
    start, width = 0, 4
    with np.errstate(invalid="ignore"):
        while start < candidates.shape[1] and len(rows):
            stop = start + width
            values = candidates[rows, start:stop]
            want = floats[start:stop]
            diff = np.abs(values - want)
            scale = np.maximum(np.abs(values), np.abs(want))
            close = (diff <= atol + rtol * scale) & np.isfinite(values)
            same = (values == want) | (np.isnan(values) & np.isnan(want))
            ok = np.where(np.isfinite(want), close | same, same)
            rows = rows[ok.all(axis=1)]
            start, width = stop, width * 4
    return rows


def _likely_rows(
    candidates: np.ndarray, floats: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """The rows that pass a quick test, column by column until few are left:
    all rows `_close_rows` can accept, and usually few more.

    For a finite wanted value w, |v - w| <= atol + rtol * max(|v|, |w|) needs
    |v - w| <= (atol + rtol * |w|) / (1 - rtol): a subtraction and a
    comparison per row, on a column view (no copy). The bound is a little
    generous so that rounding never drops a row the exact test would keep.
    """
    n = candidates.shape[0]
    rows = None  # all of them
    if 0 <= rtol < 1 and atol >= 0:
        with np.errstate(invalid="ignore", over="ignore"):
            for col in range(candidates.shape[1]):
                want = float(floats[col])
                if not math.isfinite(want):
                    continue
                bound = (atol + rtol * abs(want)) / (1 - rtol) * (1 + 1e-6) + 1e-300
                values = candidates[:, col] if rows is None else candidates[rows, col]
                ok = np.abs(values - want) <= bound
                if rows is None:
                    if ok.all():
                        continue  # a column all candidates share
                    rows = np.flatnonzero(ok)
                else:
                    rows = rows[ok]
                if len(rows) * 64 < n:  # few left: the exact test is cheap now
                    break
    return np.arange(n) if rows is None else rows


def _distance(rows: np.ndarray, floats: np.ndarray) -> np.ndarray:
    """Largest difference of each row from `floats` (NaN and inf count as 0)."""
    with np.errstate(invalid="ignore"):
        diff = np.abs(rows - floats)
    return np.nan_to_num(diff, nan=0.0, posinf=0.0).max(axis=1, initial=0.0)


class BaseStore(ABC):
    """What every backend offers. Subclasses implement the `_` primitives."""

    # -- primitives ---------------------------------------------------------

    @abstractmethod
    def _add_raw(self, oid: ObjectId, data: bytes) -> None:
        """Store canonical bytes under their id (no-op if present)."""

    @abstractmethod
    def _get_raw(self, oid: ObjectId) -> tuple[bytes, str]:
        """Bytes of an object and where they were read (for error messages)."""

    @abstractmethod
    def has(self, oid: str) -> bool:
        """Is this object in the store?"""

    @abstractmethod
    def iter_object_ids(self) -> Iterator[ObjectId]:
        """Every object id, loose and packed."""

    @abstractmethod
    def _object_ids_with_prefix(self, prefix: str) -> set[ObjectId]: ...

    @abstractmethod
    def get_ref(self, uid: str) -> ObjectId | None:
        """The newest revision of a record, or None."""

    @abstractmethod
    def _set_ref(self, uid: Uid, oid: ObjectId, expected: ObjectId | None) -> None:
        """Move a ref if it still points at `expected` (else RefConflictError)."""

    def _set_new_ref(self, uid: Uid, oid: ObjectId) -> None:
        """Create the ref of a uid just drawn at random in this process.

        No other process can know such a uid yet, so backends may skip the
        compare-and-swap (and its lock) that `_set_ref` needs.
        """
        self._set_ref(uid, oid, None)

    def _add_record(
        self,
        uid: Uid,
        oid: ObjectId,
        data: bytes,
        index: IndexTerms | None,
        new_ref: bool,
    ) -> None:
        """Store a record object, its index entries and (`new_ref`) its ref.

        In this order, so that a crash leaves at worst an unreferenced object
        or an index entry without a ref. Backends may do it in one step.
        """
        self._add_raw(oid, data)
        if index is not None:
            self._index_add(uid, index)
        if new_ref:
            self._set_new_ref(uid, oid)

    @abstractmethod
    def delete_ref(self, uid: Uid) -> None:
        """Forget a record (its objects stay until pruned)."""

    @abstractmethod
    def iter_refs(
        self, on_error: Callable[[str], None] | None = None
    ) -> Iterator[tuple[Uid, ObjectId]]:
        """Every (uid, head); a damaged ref raises StoreError, or with
        `on_error` is passed there as a message and left out."""

    @abstractmethod
    def _uids_with_prefix(self, prefix: str) -> set[Uid]: ...

    @abstractmethod
    def _index_add(self, uid: Uid, terms: IndexTerms) -> None: ...

    @abstractmethod
    def _index_exact(self, key: bytes) -> set[Uid]: ...

    @abstractmethod
    def _index_shape(self, shape: bytes) -> tuple[list[Uid], list[np.ndarray]]: ...

    @abstractmethod
    def reindex(self) -> int:
        """Rebuild the index from refs and objects; returns records indexed."""

    @abstractmethod
    def lock(self, name: str, timeout: float | None = None) -> AbstractContextManager:
        """A lock shared by every process using this store."""

    def bulk(self) -> AbstractContextManager[BaseStore]:
        """Context in which many writes are batched (one fsync per batch)."""
        from contextlib import nullcontext

        return nullcontext(self)

    def refresh(self) -> None:  # noqa: B027 - optional for backends
        """Forget cached listings, to see other processes' latest writes."""

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """Index searches inside share one look at the store (see DiskStore)."""
        yield

    # -- objects ------------------------------------------------------------

    def put_object(self, kind: str, header: dict, payload: Any) -> ObjectId:
        oid, data = encode_object(kind, header, payload)
        self._add_raw(oid, data)
        return oid

    def add_raw(self, data: bytes) -> ObjectId:
        """Copy an object's bytes from elsewhere; they are verified first."""
        from .ids import hash_bytes

        oid = hash_bytes(data)
        decode_object(oid, data)
        self._add_raw(oid, data)
        return oid

    def get_raw(self, oid: str) -> bytes:
        data, where = self._get_raw(ObjectId(oid))
        decode_object(oid, data, where)  # verifies
        return data

    def get_bytes(self, oid: str) -> bytes:
        """An object's bytes, verified against its id but not decoded (for
        readers that decode only the part they need)."""
        data, where = self._get_raw(ObjectId(oid))
        verify(oid, data, where)
        return data

    def get_many_bytes(
        self,
        oids: Iterable[str],
        on_error: Callable[[ObjectId, StoreError], None] | None = None,
    ) -> Iterator[tuple[ObjectId, bytes]]:
        """(id, verified bytes) of each object, in the order the backend
        reads them fastest (not necessarily that of `oids`): for readers that
        go through many objects, such as a selection over every Record. One
        that cannot be read raises, or with `on_error` is passed there and
        left out."""
        for oid in oids:
            try:
                data = self.get_bytes(oid)
            except StoreError as err:
                if on_error is None:
                    raise
                on_error(ObjectId(oid), err)
                continue
            yield ObjectId(oid), data

    def get(self, oid: str) -> StoredObject:
        """Read an object; its hash is verified on every read."""
        data, where = self._get_raw(ObjectId(oid))
        return decode_object(oid, data, where)

    def put_blob(self, data: bytes) -> ObjectId:
        return self.put_object("blob", {}, bytes(data))

    def get_blob(self, oid: str) -> bytes:
        obj = self.get(oid)
        if obj.kind != "blob":
            raise StoreError(f"object {oid} is a {obj.kind}, not a blob")
        return obj.payload

    # -- records and revisions ---------------------------------------------

    def commit(
        self,
        payload: Any,
        *,
        uid: Uid | None = None,
        parent: ObjectId | None = None,
        index: IndexTerms | None = None,
    ) -> StoredObject:
        """Write a record revision and move its ref onto it.

        Order matters for crashes: object (durable), then index entries, then
        the ref. A crash in between leaves an unreferenced object or a stale
        index entry, both harmless; the ref is the commit point.
        `parent` must be the current head of `uid` (None for a new record).
        """
        fresh = uid is None and parent is None
        uid = Uid.new() if uid is None else uid
        header = _record_header(uid, parent, index)
        oid, data = encode_object("record", header, payload)
        self._add_record(uid, oid, data, index, new_ref=fresh)
        if not fresh:
            self._set_ref_or_restore_index(uid, oid, parent)
        return StoredObject(oid, "record", header, payload)

    def _set_ref_or_restore_index(
        self,
        uid: Uid,
        oid: ObjectId,
        expected: ObjectId | None,
    ) -> None:
        """`_set_ref`; if it fails, index the head again: our entries may
        have replaced its floats (same uid and shape), hiding it."""
        try:
            self._set_ref(uid, oid, expected)
        except RefConflictError:
            self._restore_index(uid)
            raise

    def _restore_index(self, uid: Uid) -> None:
        head = self._head_or_none(uid)
        if head is not None and head.index is not None:
            self._index_add(uid, head.index)

    def set_ref(
        self, uid: str, oid: str, expected: str | None = None, *, index: bool = True
    ) -> None:
        """Point `uid` at revision `oid` (which must be in the store).

        `index=False` when the caller has already indexed the revision
        (e.g. through `index_add` in a batch).
        """
        if index:
            obj = self.get(oid)
            if obj.uid != uid:
                raise StoreError(f"object {oid} is not a revision of {uid}")
            if obj.index is not None:
                self._index_add(Uid(uid), obj.index)
        elif not self.has(oid):
            raise ObjectNotFoundError(f"cannot point {uid} at missing object {oid}")
        self._set_ref_or_restore_index(
            Uid(uid), ObjectId(oid), None if expected is None else ObjectId(expected)
        )

    def move_refs(self, moves: Sequence[tuple[str, str, str | None]]) -> list[bool]:
        """Move many refs, each from `expected` to its new head by
        compare-and-swap; True where it moved, False where the ref was
        elsewhere. Each ref moves atomically. The new heads must be in the
        store and indexed already (as for `set_ref(..., index=False)`).
        """
        moved = self._move_refs(
            [
                (Uid(u), ObjectId(o), None if e is None else ObjectId(e))
                for u, o, e in moves
            ]
        )
        for i, (uid, oid, expected) in enumerate(moves):
            if moved[i] is None:  # the backend left it: one by one
                try:
                    self._set_ref(Uid(uid), ObjectId(oid), expected)
                    moved[i] = True
                except RefConflictError:
                    moved[i] = False
            if not moved[i]:
                self._restore_index(Uid(uid))
        return moved

    def _move_refs(self, moves: list[tuple[Uid, ObjectId, ObjectId | None]]) -> list:
        """Backends that can move many refs at once override this: True
        (moved), False (conflict) or None (not done) per move."""
        return [None] * len(moves)

    def index_add(self, uid: str, terms: IndexTerms) -> None:
        """Make the index find `uid` by `terms` (before its ref moves there)."""
        self._index_add(Uid(uid), terms)

    def head(self, uid: str) -> StoredObject:
        oid = self.get_ref(uid)
        if oid is None:
            raise ObjectNotFoundError(f"no record with uid {uid}")
        return self.get(oid)

    def log(self, start: str) -> Iterator[StoredObject]:
        """The revision chain from `start` (uid or object id) back to the first."""
        ref = self.get_ref(start) if len(start) == 32 else None
        oid: str | None = ref or start
        while oid is not None:
            obj = self.get(oid)
            yield obj
            oid = obj.parent

    def records(self) -> Iterator[StoredObject]:
        """The head revision of every record (see `heads`)."""
        for _uid, obj in self.heads():
            yield obj

    def heads(self) -> Iterator[tuple[Uid, StoredObject]]:
        """(uid, head revision) of every record that can be read.

        A damaged ref or head object is left out with a `StoreWarning`
        naming it, so that one damaged file hides no other Record (`asr
        fsck` reports it as an error).
        """
        for uid, oid in self.iter_refs(on_error=_warn):
            try:
                obj = self.get(oid)
            except StoreError as err:
                _warn(f"record {uid} left out: {err}; run asr fsck")
                continue
            yield uid, obj

    def heads_bytes(
        self, keep: Callable[[Uid, ObjectId], bool] | None = None
    ) -> Iterator[tuple[Uid, ObjectId, bytes]]:
        """(uid, head, its verified bytes) of every record (whose uid and
        head `keep` accepts), read in bulk (`get_many_bytes`) and in no
        particular order; a damaged one is left out with a `StoreWarning`,
        as in `heads`."""
        chunk: dict[ObjectId, Uid] = {}
        for uid, oid in self.iter_refs(on_error=_warn):
            if keep is not None and not keep(uid, oid):
                continue
            chunk[oid] = uid
            if len(chunk) == 1 << 16:  # a dict of ~10 MB
                yield from self._chunk_bytes(chunk)
                chunk = {}
        yield from self._chunk_bytes(chunk)

    def _chunk_bytes(
        self, uids: dict[ObjectId, Uid]
    ) -> Iterator[tuple[Uid, ObjectId, bytes]]:
        def failed(oid: ObjectId, err: StoreError) -> None:
            _warn(f"record {uids[oid]} left out: {err}; run asr fsck")

        for oid, data in self.get_many_bytes(uids, on_error=failed):
            yield uids[oid], oid, data

    # -- the index ----------------------------------------------------------

    def find(self, key: bytes) -> list[StoredObject]:
        """Records whose head has exactly these index terms' `exact` key."""
        found = []
        for uid in sorted(self._index_exact(key)):
            head = self._head_or_none(uid)
            if head is not None and head.index is not None and head.index.exact == key:
                found.append(head)
        return found

    def find_similar(
        self,
        shape: bytes,
        floats: Iterable[float],
        rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL,
    ) -> list[StoredObject]:
        """Records of this shape whose floats equal `floats` within tolerance."""
        floats = np.asarray(floats, dtype=float).ravel()
        hits: list[tuple[float, int, Uid]] = []  # (distance, order, uid)
        for uids, matrix in self._shape_blocks(shape, len(floats)):
            rows = _close_rows(matrix, floats, rtol, atol)
            if not len(rows):
                continue
            distances = _distance(matrix[rows], floats).tolist()
            for row, distance in zip(rows.tolist(), distances):
                uid = uids[row]
                if isinstance(uid, np.ndarray):  # raw bytes from a packed segment
                    uid = Uid(uid.tobytes())
                hits.append((distance, len(hits), uid))
        hits.sort()
        found, seen = [], set()
        for *_, uid in hits:
            if uid in seen:
                continue
            seen.add(uid)
            head = self._head_or_none(uid)
            if head is None or head.index is None or head.index.shape != shape:
                continue
            if len(close_rows(head.index.floats[None, :], floats, rtol, atol)):
                found.append(head)
        return found

    def _shape_blocks(
        self, shape: bytes, length: int
    ) -> Iterator[tuple[Sequence, np.ndarray]]:
        """Same-shape index entries with `length` floats, in blocks.

        Each block is (uids, matrix): row i of the (n, length) matrix holds
        the floats of uids[i], a Uid or its 16 raw bytes. Backends with
        packed entries override this to hand out their arrays uncopied.
        """
        uids, vectors = self._index_shape(shape)
        keep = [i for i, v in enumerate(vectors) if len(v) == length]
        if keep:
            matrix = np.array([vectors[i] for i in keep], dtype=float)
            yield [uids[i] for i in keep], matrix.reshape(len(keep), length)

    def _head_or_none(self, uid: str) -> StoredObject | None:
        oid = self.get_ref(uid)
        return None if oid is None else self.get(oid)

    # -- names --------------------------------------------------------------

    def resolve(self, spec: str) -> ObjectId | Uid:
        """Full or abbreviated object id or uid, optionally with ``~N``.

        ``ID~2`` is the revision two steps before ID (as in Git). An
        abbreviation that fits more than one id is an error that lists them.
        """
        match = _ID_SPEC.match(spec.strip())
        if not match:
            raise ObjectNotFoundError(f"not an id: {spec!r}")
        base = match["base"].lower()
        back = sum(int(part or 1) for part in match["back"].split("~")[1:])
        if len(base) < MIN_PREFIX:
            raise ObjectNotFoundError(
                f"id {spec!r} is too short: give at least {MIN_PREFIX} characters"
            )
        if len(base) == 32:
            candidates: set[str] = set()
            if self.get_ref(base) is not None:
                candidates.add(Uid(base))
            if self.has(base):
                candidates.add(ObjectId(base))
        else:
            candidates = set(self._object_ids_with_prefix(base))
            candidates |= self._uids_with_prefix(base)
        if not candidates:
            raise ObjectNotFoundError(f"no object or record matches {spec!r}")
        if len(candidates) > 1:
            listed = ", ".join(sorted(candidates)[:5])
            raise AmbiguousIdError(f"{spec!r} is ambiguous: it matches {listed}")
        (found,) = candidates
        if back:
            chain = list(self.log(found))
            if back >= len(chain):
                raise ObjectNotFoundError(
                    f"{spec!r}: the chain has only {len(chain)} revisions"
                )
            return chain[back].oid
        return found

    def resolve_object(self, spec: str) -> StoredObject:
        """The object an id spec names; a uid names its newest revision."""
        found = self.resolve(spec)
        if isinstance(found, Uid):
            return self.head(found)
        return self.get(found)
