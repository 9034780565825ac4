"""`asr diff ID1 ID2`: why did this not hit the cache?"""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from asr.core import Record
from asr.core.diff import diff as diff_values
from asr.core.presentation import summarise

from .common import console, open_store


def comparable(record: Record) -> dict:
    return {
        "name": record.name,
        "version": record.version,
        "arguments": record.arguments,
        "result": record.result,
        "versions": record.metadata.get("versions", {}),
        "dependencies": {d.uid: d.revision for d in record.dependencies},
    }


@click.command()
@click.argument("first", metavar="ID1")
@click.argument("second", metavar="ID2")
def diff(first: str, second: str) -> None:
    """What differs between two Records: arguments, results, versions, dependencies."""
    from .records import install  # noqa: F401  (user errors of the core)

    store = open_store()
    a, b = (Record.from_stored(store.resolve_object(spec)) for spec in (first, second))
    changes = diff_values(comparable(a), comparable(b))
    out = console()
    if not changes:
        out.print("No differences in arguments, results, versions or dependencies.")
        return
    table = Table("", "entry")
    table.add_column(Text(first))  # ids as typed: never markup
    table.add_column(Text(second))
    marks = {
        "changed": Text("~", "yellow"),
        "added": Text("+", "green"),
        "removed": Text("-", "red"),
    }
    for change in changes:
        table.add_row(
            marks[change.kind],
            Text(change.path),
            Text("" if change.kind == "added" else summarise(change.old, 40)),
            Text("" if change.kind == "removed" else summarise(change.new, 40)),
        )
    out.print(table)
