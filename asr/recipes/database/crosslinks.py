"""Links from the rows of one database to rows of others with the same formula.

The links (see `asr.recipes.database.treelinks` for their format) name the
other database (``db``: its file name without extension, or the database
name of a PostgreSQL address) and the row's ``unique_id``. `link_databases`
stores them in ``row.data["links"]`` of the first database, where the web
app shows them; `asr database totree` writes them into ``links.json``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from asr.core import Record, Result, instruction, key

from .treelinks import reduced_formula


def database_name(name: str | os.PathLike) -> str:
    """How links name a database: ``c2db`` for c2db.db or postgresql://…/c2db."""
    text = str(name)
    if "://" in text:
        return urlparse(text).path.strip("/") or text
    return Path(text).stem


@dataclass
class CrossLinksResult(Result):
    title = "Links to other databases"
    links: dict = field(metadata=key("Links of each row (by unique_id)"))
    nlinks: int = field(metadata=key("Number of links"))
    nlinked: int = field(metadata=key("Number of rows with at least one link"))


@instruction("asr.database.crosslinks", version=0)
def main(database: str, rows: dict, others: dict) -> CrossLinksResult:
    """Link each row of `database` to the rows of `others` with its formula.

    `rows` maps the unique_id of each row of `database` to its reduced
    formula; `others` maps another database's name to its rows, each
    ``{unique_id: {"formula": ..., "name": ...}}``.
    """
    index: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for other in sorted(others):
        if other == database:
            continue
        for uid, row in sorted(others[other].items()):
            index[row["formula"]].append((other, uid, row.get("name") or uid))
    links: dict[str, list[dict[str, Any]]] = {}
    for uid, formula in sorted(rows.items()):
        found = [
            {
                "name": f"{name} ({other})",
                "description": f"{formula} in the database {other}",
                "db": other,
                "uid": other_uid,
            }
            for other, other_uid, name in index.get(formula, [])
        ]
        if found:
            links[uid] = found
    return CrossLinksResult(
        links=links,
        nlinks=sum(len(found) for found in links.values()),
        nlinked=len(links),
    )


def _rows(db) -> dict[str, dict[str, str]]:
    return {
        row.unique_id: {
            "formula": reduced_formula(row.formula),
            "name": row.get("folder") or row.formula,
        }
        for row in db.select(include_data=False)
    }


@dataclass
class CrossLinksReport:
    record: Record
    updated: int = 0
    names: list[str] = field(default_factory=list)


def link_databases(database: str, others: list[str]) -> CrossLinksReport:
    """Run `main` on `database` and `others`; store the links in its rows.

    Links to the databases in `others` made earlier are replaced; other
    links are kept. The Record goes into the store in use.
    """
    from ase.db import connect

    db = connect(database)
    mine = _rows(db)
    names = [database_name(other) for other in others]
    rows = {uid: row["formula"] for uid, row in mine.items()}
    record = main(
        database=database_name(database),
        rows=rows,
        others={name: _rows(connect(o)) for name, o in zip(names, others)},
    )
    report = CrossLinksReport(record, names=names)
    new_links = record.result.links
    with db:
        for row in db.select():
            old = list(row.data.get("links", []))
            kept = [x for x in old if x.get("db") not in names]
            links = kept + new_links.get(row.unique_id, [])
            if links != old:
                db.update(row.id, data={"links": links})
                report.updated += 1
    return report
