"""`totree`: an ASE database -> material folders and one store.

Each row with a ``folder`` key becomes ``TREE/folder/`` with its structure
file and ``links.json``; the Records of every row go into one store at
``TREE/.asr`` with their exact bytes (same uids, same revision ids). Objects
are written in packs (`store.bulk()`), then the refs: a record made in a
material folder gets the head its row names; a record that only came along
as a dependency gets the newest revision the database holds of it.

Writing into a tree that already has a store is allowed: a ref that is
already there moves only forward (to a revision whose chain contains it);
two diverged heads are reported as a conflict and the store's is kept.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from asr.recipes.database.treelinks import write_links
from asr.store import DecodeError, DiskStore, ObjectId, StoreError, Uid, init_store

from .bundle import RevisionInfo, newer_head, read_bundle, row_bundle
from .fromtree import DEFAULT_STRUCTURE, Problem, Progress, no_progress
from .rows import LINKS_KEY, check_links, connect, count_rows, safe_folder


@dataclass
class ToTreeReport:
    folders: int = 0
    records: int = 0
    objects: int = 0
    skipped: list[Problem] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)


def totree(
    database: str | os.PathLike,
    folder: str | os.PathLike,
    *,
    structure: str = DEFAULT_STRUCTURE,
    progress: Progress = no_progress,
) -> ToTreeReport:
    """Rebuild the material folders and the store of `database` under `folder`."""
    db = connect(database, must_exist=True)
    total = count_rows(db)
    tree = Path(folder)
    tree.mkdir(parents=True, exist_ok=True)
    store = init_store(tree)
    had_objects = next(iter(store.iter_object_ids()), None) is not None
    report = ToTreeReport()
    revisions: dict[ObjectId, RevisionInfo] = {}
    heads: dict[Uid, ObjectId] = {}
    added: set[ObjectId] = set()
    with progress("Writing folders", total) as advance, store.bulk() as bulk:
        for row in db.select():
            advance(1)
            name = safe_folder(row.get("folder"))
            if name is None:
                report.skipped.append(
                    Problem(f"row {row.id}", "no folder key inside the tree")
                )
                continue
            try:
                text = row_bundle(row)
                bundle = read_bundle(text) if text else None
                links = check_links(list(row.data.get(LINKS_KEY, [])))
            except (DecodeError, ValueError) as err:
                report.skipped.append(Problem(name, _one_line(err)))
                continue
            path = tree / name
            path.mkdir(parents=True, exist_ok=True)
            if not _write_structure(path / structure, row.toatoms()):
                report.conflicts.append(
                    Problem(name, f"{structure} exists and differs: kept it")
                )
            write_links(path, links)
            report.folders += 1
            if bundle is None:
                continue
            for oid, raw in bundle.objects.items():
                if oid in added or (had_objects and store.has(oid)):
                    continue
                added.add(oid)
                bulk.add_raw(raw)
                report.objects += 1
            for oid, info in bundle.revisions.items():
                revisions[oid] = info
            for uid, oid in bundle.refs.items():
                _choose(heads, uid, oid, revisions, report, name)
        for uid, oid in _dependency_tips(revisions, heads, report).items():
            heads[uid] = oid
        moves = _set_refs(bulk, store, heads, revisions, report)
    for uid, (old, new) in moves.items():
        store.set_ref(uid, new, expected=old)
    return report


def _write_structure(path: Path, atoms: Atoms) -> bool:
    """Write `atoms` unless a different structure is there; False if so."""
    from ase.io import read, write

    if path.exists():
        try:
            return read(path) == atoms
        except Exception:  # unreadable: not ours to overwrite either
            return False
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    write(tmp, atoms)
    os.replace(tmp, path)
    return True


def _choose(heads, uid, oid, revisions, report: ToTreeReport, where: str) -> None:
    current = heads.get(uid)
    if current is None:
        heads[uid] = oid
        return
    keep = newer_head(revisions, current, oid)
    if keep is None:
        report.conflicts.append(
            Problem(where, f"record {uid} has diverged heads {current} and {oid}")
        )
    else:
        heads[uid] = keep


def _dependency_tips(revisions, heads, report: ToTreeReport) -> dict[Uid, ObjectId]:
    """The newest revision of each record that no row names as its own."""
    by_uid: dict[Uid, set[ObjectId]] = defaultdict(set)
    parents: set[ObjectId] = set()
    for oid, info in revisions.items():
        if info.uid not in heads:
            by_uid[info.uid].add(oid)
            if info.parent is not None:
                parents.add(info.parent)
    tips = {}
    for uid, oids in by_uid.items():
        found = sorted(oids - parents)
        if len(found) > 1:
            report.conflicts.append(
                Problem(uid, f"dependency has diverged revisions; chose {found[0]}")
            )
        if found:
            tips[uid] = found[0]
    return tips


def _set_refs(bulk, store: DiskStore, heads, revisions, report: ToTreeReport):
    """Set new refs in the batch; returns the moves of existing refs."""
    moves: dict[Uid, tuple[ObjectId, ObjectId]] = {}
    for uid, oid in heads.items():
        existing = store.get_ref(uid)
        if existing is None:
            bulk.set_ref(uid, oid)
            report.records += 1
        elif existing == oid:
            report.records += 1
        elif _store_ancestor(store, revisions, existing, oid):
            moves[uid] = (existing, oid)
            report.records += 1
        elif not _store_ancestor(store, revisions, oid, existing):
            report.conflicts.append(
                Problem(uid, f"the store has head {existing}, the database {oid}: kept")
            )
    return moves


def _store_ancestor(store, revisions, old: ObjectId, new: ObjectId) -> bool:
    """Like `is_ancestor`, reading revisions missing from `revisions` from `store`."""
    seen: set[ObjectId] = set()
    oid: ObjectId | None = new
    while oid is not None and oid not in seen:
        if oid == old:
            return True
        seen.add(oid)
        info = revisions.get(oid)
        if info is not None:
            oid = info.parent
            continue
        try:
            oid = store.get(oid).parent
        except StoreError:
            return False
    return False


def _one_line(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())
