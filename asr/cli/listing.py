"""Records chosen by a typed selection, and the table that lists them.

Every command that takes a selection (`asr cache ls/rm`, `asr results`,
`asr show`) goes through `select_records`, so they all accept the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from asr.core.cache import selected
from asr.core.presentation import summarise
from asr.core.record import Record
from asr.core.selection import Criterion, SelectionError, parse_selection, select
from asr.store import BaseStore

from .common import add_user_error

add_user_error(SelectionError)


def select_records(
    store: BaseStore, words: Iterable[str], *extra: Criterion
) -> list[Record]:
    """The Records the words (and `extra` criteria) select, in listing order."""
    criteria = [*parse_selection(words), *extra]
    found = select(selected(store, criteria), criteria)
    found.sort(key=lambda r: (r.name, r.metadata_entry("start", 0)))
    return found


def records_table(records: Sequence[Record]) -> Table:
    """One row per Record; the name is never cut, other columns wrap."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    table.add_column("uid", no_wrap=True)
    longest = max((len(r.name) for r in records), default=4)
    table.add_column("name", no_wrap=True, min_width=longest)
    table.add_column("v", overflow="fold")
    table.add_column("arguments", overflow="fold", min_width=10)
    table.add_column("created", overflow="fold", min_width=10)
    table.add_column("folder", overflow="fold")
    for r in records:
        cells = (
            r.uid[:12],
            r.name,
            str(r.version),
            summarise(r.arguments, 50),
            r.created,
            str(r.metadata.get("directory", "")),
        )
        table.add_row(*map(Text, cells))  # text, never markup
    return table
