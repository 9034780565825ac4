"""Key/value tables of Results and Records, for rich and for HTML.

Every cell is a `rich.text.Text` (or a renderable that draws itself), never a
markup string: stored text such as ``[b, b]`` would otherwise be read as a
style tag and vanish. HTML cells are escaped with `html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.highlighter import ReprHighlighter
from rich.table import Table
from rich.text import Text

_highlight = ReprHighlighter()

COLUMNS = ("key", "value", "unit", "description")


@dataclass(frozen=True)
class Row:
    """One key of a Result: its value already summarised to a line."""

    key: str
    value: str
    unit: str = ""
    description: str = ""

    def cells(self, columns: Sequence[str]) -> list[str]:
        return [getattr(self, column) for column in columns]


def text(value: Any, style: str = "") -> Text:
    """Plain text for rich: shown as it is, markup and all."""
    return Text(str(value), style=style)


def value_text(value: str) -> Text:
    """A summarised value, with numbers and strings coloured (never markup)."""
    return _highlight(Text(value))


def rich_table(
    title: str, rows: Iterable[Row], columns: Sequence[str] = COLUMNS
) -> Table:
    """A table with a column per entry of `columns`, as `Result.__rich__` shows."""
    # At least as wide as the title, so a nested table does not wrap it.
    table = Table(title=text(title), title_justify="left", min_width=len(title))
    styles = {"key": "bold cyan", "description": "dim"}
    for column in columns:
        table.add_column(column, style=styles.get(column, ""))
    for row in rows:
        cells = row.cells(columns)
        table.add_row(
            *(
                value_text(cell) if column == "value" else text(cell)
                for column, cell in zip(columns, cells)
            )
        )
    return table


def html_table(
    title: str, rows: Iterable[Row], columns: Sequence[str] = COLUMNS
) -> str:
    """The same table as plain, escaped HTML for Jupyter."""
    return html_grid(title, columns, (row.cells(columns) for row in rows))


def html_grid(
    title: str, head: Sequence[str] | None, rows: Iterable[Sequence[Any]]
) -> str:
    """A plain HTML table with a caption (and a header row unless `head` is
    None); every cell is escaped."""
    caption = f"<caption style='text-align:left'>{html.escape(title)}</caption>"
    header = (
        ""
        if head is None
        else "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{caption}{header}{body}</table>"
