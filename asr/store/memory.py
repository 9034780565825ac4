"""A store in memory: for tests, and for scripts that want no files."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from .base import BaseStore
from .errors import LockTimeoutError, ObjectNotFoundError, RefConflictError
from .ids import ObjectId, Uid
from .objects import IndexTerms


class _NamedLock:
    def __init__(self, lock: threading.Lock, name: str, timeout: float | None):
        self.lock, self.name, self.timeout = lock, name, timeout

    def __enter__(self):
        if not self.lock.acquire(timeout=-1 if self.timeout is None else self.timeout):
            raise LockTimeoutError(f"could not take lock {self.name!r}")
        return self

    def __exit__(self, *exc):
        self.lock.release()


class MemoryStore(BaseStore):
    def __init__(self):
        self._objects: dict[ObjectId, bytes] = {}
        self._refs: dict[Uid, ObjectId] = {}
        self._exact: dict[bytes, set[Uid]] = defaultdict(set)
        self._shape: dict[bytes, dict[Uid, np.ndarray]] = defaultdict(dict)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._objects)} objects, {len(self._refs)} refs)"

    def _add_raw(self, oid, data):
        self._objects.setdefault(oid, bytes(data))

    def _get_raw(self, oid):
        try:
            return self._objects[oid], "memory"
        except KeyError:
            raise ObjectNotFoundError(f"no object {oid}") from None

    def has(self, oid):
        return oid in self._objects

    def iter_object_ids(self) -> Iterator[ObjectId]:
        return iter(list(self._objects))

    def _object_ids_with_prefix(self, prefix):
        return {oid for oid in self._objects if oid.startswith(prefix)}

    def get_ref(self, uid):
        return self._refs.get(uid)

    def _set_ref(self, uid, oid, expected):
        with self._mutex:
            current = self._refs.get(uid)
            if current != expected:
                raise RefConflictError(
                    f"ref {uid} is at {current}, expected {expected}"
                )
            self._refs[uid] = oid

    def delete_ref(self, uid):
        with self._mutex:
            self._refs.pop(uid, None)

    def iter_refs(self, on_error=None):  # nothing here can be damaged
        return iter(list(self._refs.items()))

    def _uids_with_prefix(self, prefix):
        return {uid for uid in self._refs if uid.startswith(prefix)}

    def _index_add(self, uid: Uid, terms: IndexTerms) -> None:
        self._exact[terms.exact].add(uid)
        self._shape[terms.shape][uid] = terms.floats

    def _index_exact(self, key):
        return set(self._exact.get(key, ()))

    def _index_shape(self, shape):
        entries = self._shape.get(shape, {})
        return list(entries), list(entries.values())

    def reindex(self) -> int:
        self._exact.clear()
        self._shape.clear()
        count = 0
        for obj in self.records():
            if obj.index is not None:
                self._index_add(obj.uid, obj.index)
                count += 1
        return count

    def lock(self, name, timeout=None):
        with self._mutex:
            lock = self._locks[name]
        return _NamedLock(lock, name, timeout)
