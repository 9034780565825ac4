"""One row per material: its structure, key-value pairs, Records and links.

A row written by `fromtree` (or `merge`) holds

* the atoms of the folder's structure file;
* key-value pairs: ``folder`` (the folder relative to the store's top
  folder) and the database keys of the newest Record of each recipe made in
  that folder (`Result.database_keys`);
* ``data["asr"] = {"format": 1, "bundle": ...}``: every Record made in the
  folder (see `bundle.py`), and ``data["links"]``: the folder's links;
* the ASE ``unique_id`` `material_uid(folder)`, the same in every database.

The database's metadata holds ``key_descriptions`` (ASE's format: key ->
[short, long, unit]), ``key_priority`` and ``key_digits`` (the ranks and
decimals recipes declare with ``key(..., priority=, digits=)``),
``default_columns`` (``formula`` and the ranked keys, most important first)
and a ``title``.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms

from asr.core import Record, Result
from asr.recipes.database.treelinks import material_uid

from .bundle import BUNDLE_FORMAT, DATA_KEY

FOLDER_KEY = "folder"
LINKS_KEY = "links"
FIRST_COLUMNS = ["id", "formula", FOLDER_KEY]
#: Default columns when recipes rank their keys: the formula, then by rank.
RANKED_FIRST = ["formula"]
MAX_DEFAULT_COLUMNS = 8
#: Keys ASE reserves and computes from the atoms itself: dropped silently.
ATOMS_KEYS = frozenset({"formula", "natoms", "pbc", "cell", "numbers", "positions"})
#: Keys ASE reserves for a calculator's results: they become the row's own
#: ``energy`` and ``magmom`` columns (``ase db project.db energy<0`` works).
PROPERTY_KEYS = frozenset({"energy", "free_energy", "magmom"})


class DatabaseError(Exception):
    """An ASE database cannot be read or written as asked."""


# -- databases --------------------------------------------------------------


def is_url(name: str | os.PathLike) -> bool:
    return "://" in str(name)


def connect(name: str | os.PathLike, *, must_exist: bool = False):
    """An ASE database by file name (SQLite: ``*.db``) or by URL.

    ``postgresql://user@host:port/name`` needs the ase-db-backends and
    psycopg2 packages.
    """
    from ase.db import connect as ase_connect

    text = str(name)
    if not is_url(text):
        if must_exist and not Path(text).is_file():
            raise DatabaseError(f"no database file {text}")
        if not Path(text).suffix:
            raise DatabaseError(f"{text}: give a file name ending in .db")
    try:
        db = ase_connect(text)
    except ModuleNotFoundError as err:
        raise DatabaseError(
            f"{text}: this kind of database needs the Python package {err.name}"
        ) from None
    except ValueError as err:
        raise DatabaseError(f"{text}: {err}") from None
    if is_url(text):
        try:
            db.metadata  # noqa: B018  (connects: fail early on a bad address)
        except Exception as err:  # psycopg2 raises its own tree
            raise DatabaseError(f"cannot connect to {text}: {_one_line(err)}") from None
    return db


def same_database(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    if is_url(a) or is_url(b):
        return str(a) == str(b)
    return Path(a).resolve() == Path(b).resolve()


def count_rows(db) -> int:
    try:
        return db.count()
    except Exception as err:  # a file that is no database, a refused connection
        raise DatabaseError(f"cannot read {db.filename}: {_one_line(err)}") from None


def clear(db) -> None:
    """Delete every row (for ``--force`` on a database that is not a file)."""
    ids = [row.id for row in db.select(include_data=False)]
    if ids:
        db.delete(ids)


# -- key-value pairs ---------------------------------------------------------


def newest_by_recipe(records: Iterable[Record]) -> dict[str, Record]:
    """The newest Record (by start time) of each instruction name."""
    newest: dict[str, Record] = {}
    for record in records:
        current = newest.get(record.name)
        if current is None or _age_key(record) > _age_key(current):
            newest[record.name] = record
    return dict(sorted(newest.items()))


def _age_key(record: Record) -> tuple[float, str]:
    start = record.metadata.get("start")
    return (float(start) if isinstance(start, (int, float)) else 0.0, record.uid or "")


@dataclass(frozen=True)
class KeyDoc:
    """What the metadata says of a key: ASE's three strings, and ASR's rank.

    ASE keeps ``[label, description, unit]``; the rank and decimals go in
    metadata entries of their own, so ASE's readers see its usual format.
    """

    label: str
    description: str
    unit: str = ""
    priority: int | None = None
    digits: int | None = None

    def ase(self) -> list[str]:
        return [self.label, self.description, self.unit]


FOLDER_DESCRIPTION = KeyDoc("Folder", "Material folder, relative to the tree's top")


@dataclass
class MaterialKeys:
    """Key-value pairs of a material, their descriptions and what was dropped."""

    pairs: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, float] = field(default_factory=dict)
    descriptions: dict[str, KeyDoc] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def material_keys(folder: str, records: Iterable[Record]) -> MaterialKeys:
    """``folder`` plus the database keys of the newest Record of each recipe.

    Keys ASE reserves are not key-value pairs: those it computes from the
    atoms (``formula``, ``natoms``) are dropped silently; ``energy``,
    ``free_energy`` and ``magmom`` become calculator `properties` of the row;
    others, and values ASE cannot store, are dropped with a note in
    `dropped`. All of them stay in the Records.
    """
    keys = MaterialKeys()
    keys.pairs[FOLDER_KEY] = folder
    keys.descriptions[FOLDER_KEY] = FOLDER_DESCRIPTION
    for name, record in newest_by_recipe(records).items():
        result = record.result
        if not isinstance(result, Result):
            continue
        infos = {info.name: info for info in result.keys()}
        for key_name, value in result.database_keys().items():
            if key_name in keys.pairs or key_name in ATOMS_KEYS:
                continue  # an earlier recipe (by name) has it
            if key_name in PROPERTY_KEYS and _is_number(value):
                keys.properties.setdefault(key_name, float(value))
                continue
            problem = key_problem(key_name, value)
            if problem:
                keys.dropped.append(f"{name}: {problem}")
                continue
            keys.pairs[key_name] = value
            info = infos[key_name]
            keys.descriptions[key_name] = KeyDoc(
                info.label or info.description,
                info.description,
                info.unit,
                info.priority,
                info.digits,
            )
    return keys


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def with_properties(atoms: Atoms, properties: dict[str, float]) -> Atoms:
    """`atoms` carrying `properties` as its calculator's results (for a row)."""
    if properties:
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, **properties)
    return atoms


def key_problem(name: str, value: Any) -> str | None:
    """Why ASE would refuse this key-value pair, or None."""
    from ase.db.core import check

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # keys that look like formulas
            check({name: value})
    except ValueError as err:
        return f"key {name!r} cannot be stored by ASE ({_one_line(err)})"
    return None


# -- links -------------------------------------------------------------------


def check_links(links: Any) -> list[dict[str, Any]]:
    """Links as the web app expects them (see `asr.recipes.database.treelinks`)."""
    if not isinstance(links, list):
        raise ValueError("links must be a list")
    for link in links:
        if not isinstance(link, dict) or not isinstance(link.get("name"), str):
            raise ValueError(f"a link needs a name: {link!r}")
        if not ("url" in link or "uid" in link):
            raise ValueError(f"link {link['name']!r} has neither url nor uid")
    return [dict(link) for link in links]


# -- rows --------------------------------------------------------------------


def row_data(bundle: str, links: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {DATA_KEY: {"format": BUNDLE_FORMAT, "bundle": bundle}}
    if links:
        data[LINKS_KEY] = links
    return data


def write_material(
    db, atoms: Atoms, pairs: dict[str, Any], data: dict[str, Any]
) -> int:
    """Write one material row, with the unique_id of its folder."""
    from ase.db.row import AtomsRow

    row = AtomsRow(atoms)
    row.unique_id = material_uid(pairs[FOLDER_KEY])
    row.ctime = _now()
    row.user = os.getenv("USER")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keys that look like formulas
        return db.write(row, key_value_pairs=pairs, data=data)


def copy_row(db, row, pairs: dict[str, Any] | None = None, data=None) -> int:
    """Write `row` as it is (same unique_id, ctime, user) into `db`."""
    pairs = dict(row.key_value_pairs if pairs is None else pairs)
    data = dict(row.data) if data is None else data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return db.write(row, key_value_pairs=pairs, data=data)


def _now() -> float:
    from ase.db.core import now

    return now()


def safe_folder(folder: Any) -> str | None:
    """`folder` if it is a relative path inside the tree, else None."""
    if not isinstance(folder, str) or not folder:
        return None
    path = Path(folder)
    if path.is_absolute() or ".." in path.parts or folder.startswith("~"):
        return None
    return path.as_posix()


# -- metadata ----------------------------------------------------------------


def key_metadata(descriptions: dict[str, KeyDoc]) -> dict[str, Any]:
    """Metadata entries for these keys: descriptions, ranks and decimals."""
    return {
        "key_descriptions": {k: d.ase() for k, d in descriptions.items()},
        "key_priority": {
            k: d.priority for k, d in descriptions.items() if d.priority is not None
        },
        "key_digits": {
            k: d.digits for k, d in descriptions.items() if d.digits is not None
        },
    }


def ranked_columns(priority: dict[str, int]) -> list[str]:
    """``formula`` and the ranked keys, most important (lowest rank) first."""
    ranked = sorted(priority, key=lambda k: (priority[k], k))
    return (RANKED_FIRST + ranked)[:MAX_DEFAULT_COLUMNS]


def merged_metadata(
    old: dict[str, Any], descriptions: dict[str, KeyDoc]
) -> dict[str, Any]:
    """`old` metadata with these keys' descriptions, ranks and default columns.

    What the recipes say of a key replaces what `old` said (the code is
    newer); keys only `old` knows keep their entries. With ranked keys the
    default columns follow the ranks, else they grow from `old`'s.
    """
    metadata = dict(old)
    for name, entries in key_metadata(descriptions).items():
        metadata[name] = {**dict(old.get(name) or {}), **entries}
    priority = metadata["key_priority"]
    if priority:
        metadata["default_columns"] = ranked_columns(priority)
    else:
        default = list(old.get("default_columns") or FIRST_COLUMNS)
        for column in descriptions:
            if column not in default and len(default) < MAX_DEFAULT_COLUMNS:
                default.append(column)
        metadata["default_columns"] = default
    metadata.setdefault("title", "ASR materials")
    return metadata


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _one_line(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())
