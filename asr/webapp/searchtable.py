"""A search table: the project database flattened for fast searches.

ASE's SQLite schema keeps key-value pairs in tall tables (one line per row
and key), so a search with filters, a sort and a count joins and sorts
them again on every page view, and ASE opens a connection per row it
reads. The app instead builds, once per version of the database file, a
small SQLite file in its cache folder: one line per material, every key a
real column with an index, the special columns (formula, natoms, pbc ...)
ready to show, and ASE's ``species`` table for element counts. A search
page is then one ``COUNT`` and one ``SELECT ... LIMIT`` on that file, with
the same meaning as ASE's query language (`where` translates ASE's parsed
selection as ASE's SQLite backend does).

The file is built under a temporary name and renamed into place, named by
the database's size and modification time, so a changed database gets a
new one and readers never see half a table.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from ase.db.core import invop, ops
from ase.db.sqlite import SQLite3Database
from ase.formula import Formula
from ase.symbols import Symbols

#: Bump when the layout of the file changes (old files are then rebuilt).
SCHEMA = 2
logger = logging.getLogger(__name__)

#: Columns of ASE's ``systems`` table a search can compare or sort by,
#: under the names ASE's query language uses.
SYSTEM_COLUMNS = {
    "id": "id",
    "unique_id": "unique_id",
    "ctime": "ctime",
    "mtime": "mtime",
    "user": "username",
    "username": "username",
    "calculator": "calculator",
    "energy": "energy",
    "magmom": "magmom",
    "natoms": "natoms",
    "pbc": "pbc",
    "fmax": "fmax",
    "smax": "smax",
    "volume": "volume",
    "mass": "mass",
    "charge": "charge",
}
#: ASE compares these in ``systems`` (everything else is a key-value key).
COMPARED_IN_SYSTEMS = frozenset(SYSTEM_COLUMNS) - {"mtime", "username"}
#: ASE sorts by these in ``systems``; asr app also by "user" and "age".
SORTED_IN_SYSTEMS = frozenset(SYSTEM_COLUMNS) - {"unique_id", "user"} | {"username"}
#: Bare keys ASE reads as "this column is set".
PRESENT_IN_SYSTEMS = {
    "forces": "fmax",
    "strain": "smax",
    "energy": "energy",
    "fmax": "fmax",
    "smax": "smax",
    "constraints": "constraints",
    "calculator": "calculator",
}


class SearchTableError(ValueError):
    """A selection the table cannot run (ASE would refuse it too)."""


@dataclass
class Layout:
    """Which column holds which key-value key, and which keys are booleans."""

    columns: dict[str, str]  # key -> column name
    booleans: frozenset[str]

    def to_json(self) -> str:
        return json.dumps({"columns": self.columns, "booleans": sorted(self.booleans)})

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(dict(data["columns"]), frozenset(data["booleans"]))


class SearchTable:
    """One built search table file; connections are one per thread."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        with closing_connection(path) as con:
            (text,) = con.execute("SELECT layout FROM layout").fetchone()
        self.layout = Layout.from_json(text)

    def connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = _read_only(self.path)
            self._local.con = con
        return con

    def count(self, keys: list[str], cmps: list[tuple]) -> int:
        where, args = self.where(keys, cmps)
        sql = "SELECT COUNT(*) FROM search" + (f" WHERE {where}" if where else "")
        return self.connection().execute(sql, args).fetchone()[0]

    def select(
        self,
        keys: list[str],
        cmps: list[tuple],
        *,
        sort: str = "",
        limit: int = 25,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """One page of rows: dicts of the special columns and the keys."""
        where, args = self.where(keys, cmps)
        sql = "SELECT * FROM search" + (f" WHERE {where}" if where else "")
        sql += " ORDER BY " + self.order(sort)
        sql += " LIMIT ? OFFSET ?"
        cursor = self.connection().execute(sql, [*args, limit, offset])
        names = [d[0] for d in cursor.description]
        return [self._row(dict(zip(names, values))) for values in cursor]

    def _row(self, raw: dict[str, Any]) -> dict[str, Any]:
        row = {name: raw[name] for name in ("id", "unique_id", "formula")}
        for name, column in SYSTEM_COLUMNS.items():
            row[name] = raw[column]
        bits = raw["pbc"]
        row["pbc"] = (
            None if bits is None else "".join("FT"[bits >> i & 1] for i in range(3))
        )
        kvp = {}
        for key, column in self.layout.columns.items():
            value = raw[column]
            if value is not None:
                kvp[key] = bool(value) if key in self.layout.booleans else value
        row["key_value_pairs"] = kvp
        return row

    def order(self, sort: str) -> str:
        """ORDER BY for a column name, '-' first for descending: rows without
        the key last, ties by id (so pages do not overlap). Both orders
        match an index (see `_write`), so a page needs no sort of all rows."""
        name = sort.lstrip("-")
        descending = sort.startswith("-")
        if name == "age":  # youngest first is ascending age
            name, descending = "ctime", not descending
        column = self.layout.columns.get(name)
        if column is None and name in SORTED_IN_SYSTEMS | {"user"}:
            column = SYSTEM_COLUMNS.get(name, name)
        if column is None:
            return "id"
        if descending:  # SQLite puts NULL last when descending
            return f"{column} DESC, id DESC"
        return f"{column} IS NULL, {column}, id"

    def where(self, keys: Iterable[str], cmps: Iterable[tuple]) -> tuple[str, list]:
        """A WHERE clause with the meaning of ASE's SQLite backend."""
        where: list[str] = []
        args: list[Any] = []
        columns = self.layout.columns
        for key in keys:
            if key in PRESENT_IN_SYSTEMS:
                where.append(f"{PRESENT_IN_SYSTEMS[key]} IS NOT NULL")
            elif "-" in key:
                column = columns.get(key.replace("-", ""))
                where.append(f"{column} IS NULL" if column else "1")
            else:
                column = columns.get(key)
                where.append(f"{column} IS NOT NULL" if column else "0")
        cmps = list(cmps)
        bad: dict[int, bool] = {}
        for key, op, value in cmps:
            if isinstance(key, int):
                bad[key] = bad.get(key, True) and ops[op](0, value)
        for key, op, value in cmps:
            if op not in ops:
                raise SearchTableError(f"unknown operator {op!r}")
            if isinstance(key, int):
                if bad[key]:
                    where.append(
                        "id NOT IN (SELECT id FROM species WHERE Z=? AND "
                        f"n{invop[op]}?)"
                    )
                else:
                    where.append(f"id IN (SELECT id FROM species WHERE Z=? AND n{op}?)")
                args += [key, value]
            elif key in COMPARED_IN_SYSTEMS:
                if key == "pbc":
                    if op not in ("=", "!="):
                        raise SearchTableError("pbc can only be compared with = or !=")
                    value = int(np.dot([x == "T" for x in value], [1, 2, 4]))
                where.append(f"{SYSTEM_COLUMNS[key]}{op}?")
                args.append(value)
            elif key not in columns:
                where.append("0")  # ASE: no row has that key
            elif isinstance(value, str):
                where.append(f"(typeof({columns[key]})='text' AND {columns[key]}{op}?)")
                args.append(value)
            else:
                column = columns[key]
                where.append(
                    f"(typeof({column}) IN ('integer','real') AND {column}{op}?)"
                )
                args.append(float(value))
        return " AND ".join(where), args


def closing_connection(path: Path):
    from contextlib import closing

    return closing(_read_only(path))


def _read_only(path: Path) -> sqlite3.Connection:
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def table_path(cache_dir: Path, version: tuple[int, int]) -> Path:
    size, mtime = version
    return Path(cache_dir) / f"search-{SCHEMA}-{size}-{mtime}.sqlite"


def open_search_table(
    db: SQLite3Database, cache_dir: Path, version: tuple[int, int]
) -> SearchTable:
    """The table of this version of `db`, built if it is not in `cache_dir`."""
    path = table_path(cache_dir, version)
    if not path.exists():
        build(db, path)
        for old in Path(cache_dir).glob("search-*.sqlite"):
            if old != path:
                try:  # best effort: another app may still read it
                    old.unlink()
                except OSError:
                    pass
    return SearchTable(path)


def build(db: SQLite3Database, path: Path) -> None:
    """Write the search table of `db` to `path` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".search-", suffix=".sqlite", dir=path.parent)
    os.close(fd)
    try:
        _write(db, Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write(db: SQLite3Database, target: Path) -> None:
    """Two passes over the rows (keys and their types, then the lines), so
    memory stays small for any number of rows."""
    source = "file:" + quote(os.path.abspath(db.filename)) + "?mode=ro"
    with closing_connection_rw(target) as out:
        out.execute("ATTACH DATABASE ? AS main_db", (source,))
        kinds: dict[str, set[type]] = {}
        for (text,) in out.execute("SELECT key_value_pairs FROM main_db.systems"):
            for key, value in _pairs(text).items():
                kinds.setdefault(key, set()).add(type(value))
        keys = sorted(kinds)
        layout = Layout(
            {key: f"k{i}" for i, key in enumerate(keys)},
            frozenset(k for k, types in kinds.items() if types == {bool}),
        )
        kv_columns = [layout.columns[k] for k in keys]
        out.execute(
            "CREATE TABLE search (id INTEGER PRIMARY KEY, unique_id, ctime, mtime, "
            "username, formula, pbc, constraints, calculator, energy, magmom, "
            "natoms, fmax, smax, volume, mass, charge"
            + "".join(f", {c}" for c in kv_columns)
            + ")"
        )
        formulas: dict[bytes, str] = {}

        def formula(blob: bytes) -> str:
            found = formulas.get(blob)
            if found is None:
                symbols = Symbols(db.deblob(blob, np.int32))
                found = Formula("", _tree=[(symbols, 1)]).format("metal")
                if len(formulas) < 100_000:
                    formulas[blob] = found
            return found

        rows = out.execute(
            "SELECT id, unique_id, ctime, mtime, username, numbers, pbc, "
            "NULLIF(constraints IS NOT NULL, 0), calculator, energy, magmom, "
            "natoms, fmax, smax, volume, mass, charge, key_value_pairs "
            "FROM main_db.systems ORDER BY id"
        )
        marks = ", ".join("?" * (17 + len(keys)))
        out.executemany(
            f"INSERT INTO search VALUES ({marks})",
            (
                (
                    *values[:5],
                    formula(values[5]),
                    *values[6:17],
                    *(_stored(pairs.get(k)) for k in keys),
                )
                for values in rows
                for pairs in [_pairs(values[17])]
            ),
        )
        for column in [*kv_columns, *sorted(set(SYSTEM_COLUMNS.values()) - {"id"})]:
            out.execute(f"CREATE INDEX ix_{column} ON search ({column})")
            out.execute(
                f"CREATE INDEX ix_{column}_asc ON search ({column} IS NULL, {column})"
            )
        out.execute("CREATE TABLE species (Z INTEGER, n INTEGER, id INTEGER)")
        out.execute("INSERT INTO species SELECT Z, n, id FROM main_db.species")
        out.execute("CREATE INDEX ix_species ON species (Z, n, id)")
        out.execute("ANALYZE main")  # statistics, so SQLite picks the right index
        out.execute("CREATE TABLE layout (layout TEXT)")
        out.execute("INSERT INTO layout VALUES (?)", (layout.to_json(),))
        out.commit()
        out.execute("DETACH DATABASE main_db")


def _pairs(text: str | None) -> dict[str, Any]:
    """A row's key-value pairs (ASE keeps them as JSON text)."""
    return json.loads(text) if text and text != "{}" else {}


def _stored(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def closing_connection_rw(path: Path):
    from contextlib import closing

    uri = "file:" + quote(os.path.abspath(path))
    return closing(sqlite3.connect(uri, uri=True))


class SearchTables:
    """The search table of a database's current version, built when needed.

    None when it cannot be built (say, an unwritable cache folder): the app
    then searches through ASE, slower but the same.
    """

    def __init__(self, db: SQLite3Database, cache_dir: Path):
        self.db = db
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._table: SearchTable | None = None

    def get(self) -> SearchTable | None:
        from .db import file_version

        version = file_version(self.db)
        if version == self._version:
            return self._table
        with self._lock:
            if version != self._version:
                try:
                    self._table = open_search_table(self.db, self.cache_dir, version)
                except (OSError, sqlite3.Error, ValueError) as err:
                    logger.warning("no search table for %s: %s", self.db.filename, err)
                    self._table = None
                self._version = version
            return self._table
