"""`fromtree`: material folders -> one ASE database row each.

Work is split in two parallel passes over the store(s) of the folders:

1. *scan*: worker processes read the head of every record and note the
   folder it was made in (``metadata["directory"]``); the store has no index
   by folder, so this is one read per record;
2. *collect*: a worker per folder reads the structure file and links, the
   newest Record of each recipe (for the key-value pairs) and packs every
   Record of the folder into a bundle.

The main process writes the rows in order, one transaction per chunk.
A folder that cannot be read is reported and skipped, never fatal.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms

from asr.core import Record
from asr.recipes.database.treelinks import LINKS_FILE, read_links
from asr.store import DiskStore, NoStoreError, ObjectId, StoreError, Uid, find_root
from asr.store.disk import STORE_DIR

from .bundle import pack_records
from .rows import (
    DatabaseError,
    KeyDoc,
    check_links,
    clear,
    connect,
    count_rows,
    is_url,
    key_problem,
    material_keys,
    merged_metadata,
    row_data,
    with_properties,
    write_material,
)

DEFAULT_STRUCTURE = "structure.json"
SCAN_CHUNK = 500  # records per scan task
WRITE_CHUNK = 100  # rows per transaction

#: ``progress(description, total)`` -> context manager yielding ``advance(n)``.
Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def no_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda n=1: None


@dataclass(frozen=True)
class Problem:
    """A folder (or record) left out, and why."""

    folder: str
    message: str

    def __str__(self) -> str:
        return f"{self.folder}: {self.message}"


@dataclass
class FromTreeReport:
    rows: int = 0
    records: int = 0
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    uid: Uid
    oid: ObjectId
    directory: str
    name: str
    start: float


@dataclass(frozen=True)
class _FolderTask:
    root: str
    folder: str  # relative to root
    path: str
    structure: str
    entries: tuple[_Entry, ...]


@dataclass
class _FolderRow:
    folder: str
    atoms: Atoms
    pairs: dict[str, Any]
    data: dict[str, Any]
    descriptions: dict[str, KeyDoc]
    warnings: list[str]
    records: int


# -- worker side ---------------------------------------------------------------

_stores: dict[str, DiskStore] = {}


def _store(root: str) -> DiskStore:
    store = _stores.get(root)
    if store is None:
        store = _stores[root] = DiskStore(Path(root) / STORE_DIR)
    return store


def _forget_stores() -> None:
    """Run in each new worker: never share a parent's open pack files."""
    _stores.clear()


def _scan(task: tuple[str, list[tuple[Uid, ObjectId]], frozenset[str]]):
    root, refs, wanted = task
    store = _store(root)
    entries: list[_Entry] = []
    broken: list[Problem] = []
    for uid, oid in refs:
        try:
            obj = store.get(oid)
        except StoreError as err:
            broken.append(Problem(uid, f"record cannot be read: {_one_line(err)}"))
            continue
        if not Record.is_record(obj):
            continue
        metadata = obj.payload.get("metadata") or {}
        directory = metadata.get("directory")
        if directory not in wanted:
            continue
        start = metadata.get("start")
        entries.append(
            _Entry(
                uid,
                oid,
                directory,
                str(obj.payload.get("name")),
                float(start) if isinstance(start, (int, float)) else 0.0,
            )
        )
    return entries, broken


def _collect(task: _FolderTask) -> _FolderRow | Problem:
    try:
        return _collect_folder(task)
    except Exception as err:  # a broken folder must not stop the others
        return Problem(task.folder, _one_line(err))


def _collect_folder(task: _FolderTask) -> _FolderRow | Problem:
    from ase.io import read

    path = Path(task.path) / task.structure
    if not path.is_file():
        return Problem(task.folder, f"no {task.structure}")
    try:
        atoms = read(path)
    except Exception as err:  # ASE raises many kinds for unreadable files
        return Problem(task.folder, f"cannot read {task.structure}: {_one_line(err)}")
    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        return Problem(task.folder, f"{task.structure} holds no atoms")
    store = _store(task.root)
    newest: dict[str, _Entry] = {}
    for entry in task.entries:
        current = newest.get(entry.name)
        if current is None or (entry.start, entry.uid) > (current.start, current.uid):
            newest[entry.name] = entry
    records = [Record.from_stored(store.get(e.oid)) for e in newest.values()]
    keys = material_keys(task.folder, records)
    warnings = list(keys.dropped)
    try:
        links = check_links(read_links(Path(task.path) / LINKS_FILE))
    except ValueError as err:
        warnings.append(f"{LINKS_FILE} left out: {_one_line(err)}")
        links = []
    bundle = pack_records(store, [e.uid for e in task.entries])
    return _FolderRow(
        task.folder,
        with_properties(atoms, keys.properties),
        keys.pairs,
        row_data(bundle, links),
        keys.descriptions,
        warnings,
        len(task.entries),
    )


# -- main side -----------------------------------------------------------------


def _pool(workers: int):
    methods = multiprocessing.get_all_start_methods()
    # fork: workers know every Result class this process has imported.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return context.Pool(workers, initializer=_forget_stores)


def _map(pool, function, tasks: list, chunksize: int = 1) -> Iterator:
    if pool is None:
        return map(function, tasks)
    return pool.imap(function, tasks, chunksize=chunksize)


def _material_folders(
    folders: Iterable[str | os.PathLike], report: FromTreeReport
) -> dict[str, dict[str, str]]:
    """{store top folder: {folder relative to it: path}}, in the given order."""
    found: dict[str, dict[str, str]] = {}
    tops: dict[str, str] = {}  # folder -> its tree: names must be unique
    for given in folders:
        path = Path(given)
        if not path.is_dir():
            report.skipped.append(Problem(str(given), "not a folder"))
            continue
        try:
            top = find_root(path)
        except NoStoreError:
            report.skipped.append(Problem(str(given), "no ASR store at or above it"))
            continue
        relative = Path(os.path.relpath(path.resolve(), top)).as_posix()
        problem = key_problem("folder", relative)
        if problem:
            report.skipped.append(Problem(relative, problem))
            continue
        if tops.setdefault(relative, str(top)) != str(top):
            report.skipped.append(
                Problem(str(given), f"{relative} is also a folder of {tops[relative]}")
            )
            continue
        found.setdefault(str(top), {}).setdefault(relative, str(path))
    return found


def prepare_output(out: str | os.PathLike, force: bool):
    """Connect to `out`, which must be empty (``force``: empty it first)."""
    if force and not is_url(out) and Path(out).is_file():
        Path(out).unlink()
    db = connect(out)
    if count_rows(db):
        if not force:
            raise DatabaseError(
                f"{out} already holds rows: choose another name, or use --force"
            )
        clear(db)
    return db


def fromtree(
    folders: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    structure: str = DEFAULT_STRUCTURE,
    force: bool = False,
    progress: Progress = no_progress,
) -> FromTreeReport:
    """Write one row per material folder into the ASE database `out`."""
    report = FromTreeReport()
    trees = _material_folders(folders, report)
    db = prepare_output(out, force)
    workers = max(1, workers or min(os.cpu_count() or 1, 8))
    nfolders = sum(len(tree) for tree in trees.values())
    pool = _pool(workers) if workers > 1 and nfolders > 1 else None
    try:
        tasks = _scan_trees(trees, structure, pool, report, progress)
        _write_rows(db, tasks, pool, workers, report, progress)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return report


def _scan_trees(trees, structure, pool, report, progress) -> list[_FolderTask]:
    scans = []
    for top, folders in trees.items():
        refs = list(_store(top).iter_refs())
        wanted = frozenset(folders)
        scans += [
            (top, refs[i : i + SCAN_CHUNK], wanted)
            for i in range(0, len(refs), SCAN_CHUNK)
        ]
    entries: dict[tuple[str, str], list[_Entry]] = {}
    total = sum(len(refs) for _top, refs, _wanted in scans)
    with progress("Reading records", total) as advance:
        for (top, refs, _wanted), (found, broken) in zip(
            scans, _map(pool, _scan, scans)
        ):
            for entry in found:
                entries.setdefault((top, entry.directory), []).append(entry)
            report.warnings += [
                Problem(f"{top}: {p.folder}", p.message) for p in broken
            ]
            advance(len(refs))
    return [
        _FolderTask(
            top,
            folder,
            path,
            structure,
            tuple(sorted(entries.get((top, folder), []), key=lambda e: e.uid)),
        )
        for top, folders in trees.items()
        for folder, path in folders.items()
    ]


def _write_rows(db, tasks, pool, workers, report: FromTreeReport, progress) -> None:
    descriptions: dict[str, KeyDoc] = {}
    buffer: list[_FolderRow] = []

    def flush() -> None:
        with db:
            for row in buffer:
                try:
                    write_material(db, row.atoms, row.pairs, row.data)
                except ValueError as err:  # ASE refused something
                    report.skipped.append(Problem(row.folder, _one_line(err)))
                    continue
                report.rows += 1
                report.records += row.records
                descriptions.update(
                    (k, v) for k, v in row.descriptions.items() if k not in descriptions
                )
                report.warnings += [Problem(row.folder, w) for w in row.warnings]
        buffer.clear()

    chunksize = max(1, min(16, len(tasks) // (8 * workers)))
    with progress("Reading folders", len(tasks)) as advance:
        for result in _map(pool, _collect, tasks, chunksize):
            if isinstance(result, Problem):
                report.skipped.append(result)
            else:
                buffer.append(result)
                if len(buffer) >= WRITE_CHUNK:
                    flush()
            advance(1)
        if buffer:
            flush()
    db.metadata = merged_metadata(db.metadata, descriptions)


def _one_line(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())
