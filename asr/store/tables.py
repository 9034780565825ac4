"""Immutable sorted lookup tables: pack indices, packed refs, index segments.

A table maps 16-byte keys (sorted, duplicates allowed) to rows of columns.
It is stored as a `table` object, so its file name is its hash and every
load verifies it. Tables are read whole into memory (no mmap, which is
unsafe on NFS) and cached by name, which is safe because they never change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import StoreError
from .files import is_tmp, listdir, read_bytes, write_atomic
from .objects import decode_object, encode_object

SUFFIX = ".table"
# A folder's mtime may not change when the folder changes twice within the
# resolution of its clock (a second on some file systems): an mtime younger
# than this is not trusted to say "unchanged" (Git's "racy" rule).
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class Table:
    """Sorted 16-byte `keys` and any number of equally long `columns`."""

    type: str
    keys: np.ndarray  # dtype S16, sorted
    columns: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, key: bytes) -> range:
        return _rows(self.keys, key)

    def prefix_rows(self, prefix: bytes) -> range:
        """Rows whose key starts with `prefix` (for abbreviated ids)."""
        lo = int(np.searchsorted(self.keys, prefix.ljust(16, b"\0"), "left"))
        hi = int(np.searchsorted(self.keys, prefix.ljust(16, b"\xff"), "right"))
        return range(lo, hi)

    def key(self, row: int) -> bytes:
        return self.keys[row].ljust(16, b"\0")

    @staticmethod
    def raw16(column: np.ndarray, row: int) -> bytes:
        return column[row].tobytes()


def names_in(folder: Path) -> list[str]:
    """The committed tables of `folder` (none while it is absent), unsorted."""
    return [n for n in listdir(folder) if n.endswith(SUFFIX) and not is_tmp(n)]


def _rows(keys: np.ndarray, key: bytes) -> range:
    """Rows of sorted S16 `keys` equal to `key`.

    One binary search, then a step per duplicate (keys are mostly unique):
    this is on the hot path of every lookup.
    """
    lo = int(keys.searchsorted(key))
    stripped = key.rstrip(b"\0")  # how numpy hands out S16 values
    if lo == len(keys) or keys[lo] != stripped:
        return range(lo, lo)
    hi = lo + 1
    while hi < len(keys) and keys[hi] == stripped:
        hi += 1
    return range(lo, hi)


def build(
    type: str,
    keys: list[bytes] | np.ndarray,
    columns: dict[str, np.ndarray],
    meta: dict | None = None,
    unsorted: dict[str, np.ndarray] | None = None,
) -> Table:
    """A table of `keys` with their row-aligned columns, sorted by key.

    `unsorted` columns are stored as given (e.g. data that rows point into).
    `keys` may be an (n, 16) uint8 array, such as `hex16_column` makes.
    """
    if isinstance(keys, np.ndarray):
        key_array = np.ascontiguousarray(keys, np.uint8).view("S16").ravel()
    else:
        key_array = np.array(keys, dtype="S16") if keys else np.zeros(0, "S16")
    order = np.argsort(key_array, kind="stable")
    sorted_columns = {name: col[order] for name, col in columns.items()}
    sorted_columns.update(unsorted or {})
    return Table(type, key_array[order], sorted_columns, meta or {})


def hex16_column(ids: Iterable[str]) -> np.ndarray:
    """(n, 16) uint8 array of 32-digit hex ids (object ids, uids)."""
    return np.frombuffer(bytes.fromhex("".join(ids)), np.uint8).reshape(-1, 16)


def bytes16_column(values: list[bytes]) -> np.ndarray:
    if not values:
        return np.zeros((0, 16), np.uint8)
    return np.frombuffer(b"".join(values), np.uint8).reshape(-1, 16)


def encode(table: Table) -> tuple[str, bytes]:
    """The table's name (its hash) and bytes, to know the name before saving."""
    payload = {
        "keys": table.keys.view(np.uint8).reshape(-1, 16),
        "columns": table.columns,
    }
    header = {"type": table.type, "meta": table.meta}
    oid, data = encode_object("table", header, payload)
    return oid, data


def save(table: Table, folder: Path, *, durable: bool = True) -> Path:
    """Write the table into `folder`; returns its path (named by hash)."""
    name, data = encode(table)
    path = Path(folder) / f"{name}{SUFFIX}"
    if not path.exists():
        write_atomic(path, data, durable=durable)
    return path


def load(path: Path) -> Table:
    oid = Path(path).name[: -len(SUFFIX)]
    obj = decode_object(oid, read_bytes(path), where=str(path))
    keys = np.ascontiguousarray(obj.payload["keys"]).view("S16").ravel()
    header = obj.header
    return Table(header["type"], keys, obj.payload["columns"], header["meta"])


class TableCache:
    """Loaded tables of one folder, refreshed when the folder changes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._folder = os.fspath(folder)
        self._mtime: int | None = None
        self._tables: dict[str, Table] = {}
        self._list: list[Table] = []
        # All tables' keys merged: (keys, table number, row), built when needed.
        self._merged: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # fsck and its repair set this: a table that fails to load is left
        # out (and named in `damaged`) instead of failing every lookup.
        self.skip_damaged = False
        self.damaged: dict[str, str] = {}

    def tables(self, refresh: bool = False) -> list[Table]:
        try:
            mtime = os.stat(self._folder).st_mtime_ns
        except FileNotFoundError:
            self._tables, self._list, self._merged = {}, [], None
            self._mtime = None
            return []
        if refresh or mtime != self._mtime:
            names = sorted(n for n in listdir(self.folder) if n.endswith(SUFFIX))
            tables = {}
            for name in names:
                table = self._tables.get(name)
                if table is None:
                    try:
                        table = load(self.folder / name)
                    except FileNotFoundError:  # merged away meanwhile
                        continue
                    except (StoreError, ValueError, KeyError, TypeError) as err:
                        if not self.skip_damaged:
                            if isinstance(err, StoreError):
                                raise
                            raise StoreError(
                                f"damaged table {self.folder / name}: {err};"
                                " run asr fsck --repair"
                            ) from None
                        self.damaged[name] = str(err)
                        continue
                tables[name] = table
            if list(tables) != list(self._tables):
                self._list, self._merged = list(tables.values()), None
            self._tables = tables
            racy = time.time_ns() - mtime < RACY_NS
            self._mtime = None if racy else mtime
        return list(self._list)

    def forget(self) -> None:
        """List the folder again when next used, and load new tables then."""
        self._mtime = None

    def find(self, key: bytes, refresh: bool = False) -> list[tuple[Table, int]]:
        """Every (table, row) whose key is `key`, in the order of `tables()`.

        With many tables (one per bulk import), one binary search in all
        their keys merged (built once per set of tables) replaces one per
        table, so a lookup costs the same however many tables there are.
        """
        self.tables(refresh)
        return self._find(key)

    def find_loaded(self, key: bytes) -> list[tuple[Table, int]]:
        """As `find`, in the tables loaded already: the folder is not looked at.

        For tables whose rows stay true once written (a pack's objects are
        the same in any pack), where a hit needs no newer listing and only a
        miss does. Right after a table is written, the folder's mtime is too
        young to trust, and `find` lists it again at every call.
        """
        return self._find(key)

    def _find(self, key: bytes) -> list[tuple[Table, int]]:
        tables = self._list
        if len(tables) <= 2:
            return [(table, row) for table in tables for row in table.rows(key)]
        if self._merged is None:
            keys = np.concatenate([table.keys for table in tables])
            order = np.argsort(keys, kind="stable")  # sorted runs: fast
            owner = np.repeat(np.arange(len(tables)), [len(t) for t in tables])
            rows = np.concatenate([np.arange(len(table)) for table in tables])
            self._merged = (keys[order], owner[order], rows[order])
        keys, owner, rows = self._merged
        return [(tables[owner[i]], int(rows[i])) for i in _rows(keys, key)]

    def names(self) -> list[str]:
        self.tables()
        return list(self._tables)

    def named(self) -> dict[str, Table]:
        """name -> table, from one listing (`names` and `tables` are two)."""
        self.tables()
        return dict(self._tables)
