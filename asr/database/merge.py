"""`merge` and `split` of databases of material rows.

`merge` writes the rows of several databases into one, in order (the first
database's rows, then the new ones of the second, ...). Rows of the same
material (the same ``folder`` key) become one: their bundles are merged by
record uid (when one head's revision chain holds the other, the newer is
kept; diverged heads are a conflict and the first database's is kept), the
key-value pairs are recomputed from the merged Records and the links joined.
A row without a ``folder`` key is kept once per ``unique_id``.

`split` divides the rows of a database, in order, into N databases whose
sizes differ by at most one; merging them in order gives the rows back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.core import Record
from asr.store import MemoryStore, ObjectId, Uid

from .bundle import (
    DATA_KEY,
    RevisionInfo,
    newer_head,
    pack_records,
    read_bundle,
    row_bundle,
)
from .fromtree import Problem, Progress, no_progress, prepare_output
from .rows import (
    FOLDER_KEY,
    LINKS_KEY,
    DatabaseError,
    KeyDoc,
    connect,
    copy_row,
    count_rows,
    is_url,
    key_metadata,
    material_keys,
    ranked_columns,
    row_data,
    same_database,
)

WRITE_CHUNK = 100


@dataclass
class MergeReport:
    rows: int = 0
    merged: int = 0
    conflicts: list[Problem] = field(default_factory=list)


def merge(
    databases: list[str | os.PathLike],
    out: str | os.PathLike,
    *,
    force: bool = False,
    progress: Progress = no_progress,
) -> MergeReport:
    """Merge `databases` (in order) into the new database `out`."""
    if any(same_database(name, out) for name in databases):
        raise DatabaseError(f"{out} is one of the databases to merge")
    dbs = [connect(name, must_exist=True) for name in databases]
    plan: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for number, db in enumerate(dbs):
        for row in db.select(include_data=False):
            folder = row.get(FOLDER_KEY)
            key = ("folder", folder) if folder is not None else ("row", row.unique_id)
            plan.setdefault(key, []).append((number, row.id))
    target = prepare_output(out, force)
    report = MergeReport()
    descriptions: dict[str, KeyDoc] = {}
    items = list(plan.items())
    with progress("Merging rows", len(items)) as advance:
        for start in range(0, len(items), WRITE_CHUNK):
            with target:
                for (kind, name), sources in items[start : start + WRITE_CHUNK]:
                    rows = [dbs[n].get(id=row_id) for n, row_id in sources]
                    if len(rows) == 1:
                        copy_row(target, rows[0])
                    elif kind == "row":
                        report.conflicts.append(
                            Problem(
                                name, f"row in {len(rows)} databases: kept the first"
                            )
                        )
                        copy_row(target, rows[0])
                    else:
                        pairs, data, found = merge_rows(name, rows, report)
                        copy_row(target, rows[0], pairs, data)
                        descriptions.update(found)
                        report.merged += 1
                    report.rows += 1
                    advance(1)
    metadata: dict[str, Any] = {}
    for db in dbs:
        metadata = union_metadata(metadata, db.metadata)
    metadata = union_metadata(metadata, key_metadata(descriptions))
    if metadata.get("key_priority"):
        metadata["default_columns"] = ranked_columns(metadata["key_priority"])
    target.metadata = metadata
    return report


def merge_rows(folder: str, rows: list, report: MergeReport):
    """Key-value pairs, data and key descriptions of one material's rows."""
    objects: dict[ObjectId, bytes] = {}
    revisions: dict[ObjectId, RevisionInfo] = {}
    heads: dict[Uid, ObjectId] = {}
    for row in rows:
        text = row_bundle(row)
        if not text:
            continue
        bundle = read_bundle(text)
        objects.update(bundle.objects)
        revisions.update(bundle.revisions)
        for uid, oid in bundle.refs.items():
            current = heads.get(uid)
            keep = oid if current is None else newer_head(revisions, current, oid)
            if keep is None:
                report.conflicts.append(
                    Problem(
                        folder,
                        f"record {uid} diverged ({current} and {oid}): kept the first",
                    )
                )
            else:
                heads[uid] = keep
    store = MemoryStore()
    for raw in objects.values():
        store.add_raw(raw)
    for uid, oid in heads.items():
        store.set_ref(uid, oid)
    records = [Record.from_stored(store.get(oid)) for oid in heads.values()]
    keys = material_keys(folder, records)

    pairs: dict[str, Any] = {}
    data: dict[str, Any] = {}
    links: list[dict] = []
    for row in rows:
        for key, value in row.key_value_pairs.items():
            pairs.setdefault(key, value)
        for key, value in row.data.items():
            data.setdefault(key, value)
        links += [x for x in row.data.get(LINKS_KEY, []) if x not in links]
    pairs.update(keys.pairs)
    data.update(row_data(pack_records(store, heads), links))
    if not links:
        data.pop(LINKS_KEY, None)
    if not heads:
        data.pop(DATA_KEY, None)
    return pairs, data, keys.descriptions


def union_metadata(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """`first`, plus what `second` adds (key descriptions, default columns)."""
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
        elif key in ("key_descriptions", "key_priority", "key_digits"):
            merged[key] = {**value, **merged[key]}
        elif key == "default_columns":
            merged[key] = list(merged[key]) + [c for c in value if c not in merged[key]]
    return merged


def split(
    database: str | os.PathLike,
    parts: int,
    *,
    out_prefix: str | None = None,
    force: bool = False,
    progress: Progress = no_progress,
) -> list[str]:
    """Divide the rows of `database` into `parts` databases; returns their names.

    The names are ``PREFIX1.db`` ... (numbers padded to one width, so they
    sort in order); the prefix defaults to the database's name and a dash.
    """
    if parts < 1:
        raise DatabaseError("split into at least one part")
    if out_prefix is None:
        if is_url(database):
            raise DatabaseError("give --out-prefix to split a database at an address")
        path = Path(database)
        out_prefix = str(path.with_name(path.stem + "-"))
    db = connect(database, must_exist=True)
    total = count_rows(db)
    width = len(str(parts))
    names = [f"{out_prefix}{i + 1:0{width}d}.db" for i in range(parts)]
    if any(same_database(name, database) for name in names):
        raise DatabaseError(f"{database} would be one of its own parts")
    sizes = [total // parts + (i < total % parts) for i in range(parts)]
    metadata = db.metadata
    rows = db.select(sort="id")
    with progress("Splitting rows", total) as advance:
        for name, size in zip(names, sizes):
            out = prepare_output(name, force)
            left = size
            while left:
                with out:
                    for _ in range(min(left, WRITE_CHUNK)):
                        copy_row(out, next(rows))
                        left -= 1
                        advance(1)
            out.metadata = metadata
    return names
