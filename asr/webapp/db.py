"""Opening a project database read-only, and what the search page knows of it.

The app never writes: an SQLite database is opened through SQLite's own
read-only mode (``file:...?mode=ro``), so even a bug cannot change it.
`KeyStats` (types, ranges and the few values of text keys) feed the filter
widgets and the "Add column" list; they are computed once per version of
the file (its size and modification time), with SQL for SQLite.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ase.db.core import Database
from ase.db.sqlite import SQLite3Database

#: Text keys with at most this many values get a select widget.
MAX_SELECT_VALUES = 40
#: Rows sampled to learn the Python type of each key (bool, int, float, str).
TYPE_SAMPLE = 500


class DatabaseOpenError(Exception):
    """The database file is missing, unreadable or not an ASE database."""


class ReadOnlySQLite3Database(SQLite3Database):
    """ASE's SQLite backend with every connection opened read-only."""

    def _connect(self):
        uri = "file:" + quote(os.path.abspath(self.filename)) + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=20, check_same_thread=False)


def open_database(path: str | os.PathLike) -> Database:
    """An ASE database, read-only; `DatabaseOpenError` says why it cannot be."""
    path = Path(path)
    if not path.exists():
        raise DatabaseOpenError(f"no database at {path}")
    if not path.is_file():
        raise DatabaseOpenError(f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise DatabaseOpenError(f"cannot read {path}: permission denied")
    if path.suffix == ".json":
        from ase.db.jsondb import JSONDatabase

        db: Database = JSONDatabase(str(path.resolve()), use_lock_file=False)
    else:
        db = ReadOnlySQLite3Database(str(path.resolve()), create_indices=False)
        _check_sqlite(db)
    try:
        db.count()
        db.metadata  # noqa: B018 - reads (and checks) the metadata
    except Exception as err:
        raise DatabaseOpenError(
            f"cannot read {path} as an ASE database: {err}"
        ) from None
    return db


#: Rows looked at to tell an ASR project from another ASE database.
PROJECT_SAMPLE = 20


def check_project(db: Database, path: str | os.PathLike) -> None:
    """`DatabaseOpenError` unless some row holds ASR Records (``data["asr"]``).

    Only the first rows are read, so this is quick on any size.
    """
    if db.count() == 0:
        raise DatabaseOpenError(f"{path} has no rows")
    for row in db.select(limit=PROJECT_SAMPLE):
        data = row.get("data") or {}
        if isinstance(data, dict) and "asr" in data:
            return
    raise DatabaseOpenError(
        f"{path} is an ASE database but not an ASR project (no row holds "
        "Records); make one with: asr database fromtree FOLDERS"
    )


def _check_sqlite(db: ReadOnlySQLite3Database) -> None:
    try:
        with db._connect() as con:
            found = con.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE name='systems'"
            ).fetchone()[0]
    except sqlite3.Error as err:
        raise DatabaseOpenError(
            f"{db.filename} is not an ASE database: {err}"
        ) from None
    if not found:
        raise DatabaseOpenError(f"{db.filename} is not an ASE database (no rows table)")


def file_version(db: Database) -> tuple[int, int]:
    """Changes when the database file changes (size, mtime in ns)."""
    try:
        st = os.stat(db.filename)
    except (OSError, TypeError):
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


@dataclass
class KeyInfo:
    """What the app knows about one key-value key of the database."""

    name: str
    kind: str = "number"  # "number", "bool" or "text"
    count: int = 0
    minimum: float | None = None
    maximum: float | None = None
    values: list[str] = field(default_factory=list)  # text keys with few values

    @property
    def selectable(self) -> bool:
        """Few enough values for a select widget."""
        return bool(self.values)


@dataclass
class KeyStats:
    keys: dict[str, KeyInfo]
    nrows: int

    def names(self) -> list[str]:
        return sorted(self.keys)


def compute_key_stats(db: Database) -> KeyStats:
    """Types, ranges and (few) values of every key of the database."""
    types = _sample_types(db)
    if isinstance(db, SQLite3Database):
        keys = _sqlite_stats(db)
    else:
        keys = _scan_stats(db)
    for name, info in keys.items():
        kind = types.get(name)
        if kind == "bool":
            info.kind = "bool"
            info.values = ["True", "False"]
    return KeyStats(keys, db.count())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "text"


def _sample_types(db: Database) -> dict[str, str]:
    types: dict[str, str] = {}
    for row in db.select(limit=TYPE_SAMPLE, include_data=False):
        for key, value in row.key_value_pairs.items():
            types.setdefault(key, _kind(value))
    return types


def _sqlite_stats(db: SQLite3Database) -> dict[str, KeyInfo]:
    keys: dict[str, KeyInfo] = {}
    with db.managed_connection() as con:
        few_numbers = []
        for name, count, low, high, distinct in con.execute(
            "SELECT key, COUNT(*), MIN(value), MAX(value), COUNT(DISTINCT value) "
            "FROM number_key_values GROUP BY key"
        ):
            keys[name] = KeyInfo(name, "number", count, low, high)
            if distinct <= MAX_SELECT_VALUES:
                few_numbers.append(name)
        for name in few_numbers:
            keys[name].values = [
                _number_text(value)
                for (value,) in con.execute(
                    "SELECT DISTINCT value FROM number_key_values WHERE key=? "
                    "ORDER BY value",
                    (name,),
                )
            ]
        few = []
        for name, count, distinct in con.execute(
            "SELECT key, COUNT(*), COUNT(DISTINCT value) "
            "FROM text_key_values GROUP BY key"
        ):
            keys[name] = KeyInfo(name, "text", count)
            if distinct <= MAX_SELECT_VALUES:
                few.append(name)
        for name in few:
            keys[name].values = [
                value
                for (value,) in con.execute(
                    "SELECT DISTINCT value FROM text_key_values WHERE key=? "
                    "ORDER BY value",
                    (name,),
                )
            ]
    return keys


def _scan_stats(db: Database) -> dict[str, KeyInfo]:
    keys: dict[str, KeyInfo] = {}
    texts: dict[str, set[Any]] = {}
    for row in db.select(include_data=False):
        for name, value in row.key_value_pairs.items():
            info = keys.setdefault(name, KeyInfo(name, _kind(value)))
            info.count += 1
            if info.kind == "number" and not isinstance(value, bool):
                low, high = info.minimum, info.maximum
                info.minimum = value if low is None else min(low, value)
                info.maximum = value if high is None else max(high, value)
            if len(texts.setdefault(name, set())) <= MAX_SELECT_VALUES:
                texts[name].add(str(value) if info.kind == "text" else value)
    for name, seen in texts.items():
        if len(seen) <= MAX_SELECT_VALUES:
            try:
                values = sorted(seen)
            except TypeError:  # a key with text in some rows, numbers in others
                values = sorted(seen, key=str)
            if keys[name].kind == "number":
                values = [_number_text(v) for v in values]
            keys[name].values = values
    return keys


def _number_text(value: float) -> str:
    """187 for 187.0; other numbers as Python writes them."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class StatsCache:
    """`KeyStats` of a database, recomputed only when its file changes."""

    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._stats: KeyStats | None = None

    def get(self) -> KeyStats:
        version = file_version(self.db)
        with self._lock:
            if self._stats is None or version != self._version:
                self._stats = compute_key_stats(self.db)
                self._version = version
            return self._stats
