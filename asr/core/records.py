"""`Records`: a list of Records that renders as one table (Jupyter, rich)."""

from __future__ import annotations

from typing import SupportsIndex, overload

from .presentation import summarise
from .record import Record
from .tables import html_grid, text

COLUMNS = ("uid", "name", "v", "arguments", "result", "created", "folder")


class Records(list[Record]):
    """What `asr.core.cache.select` returns: a list, shown as a table."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Records: ...
    def __getitem__(self, index):
        found = super().__getitem__(index)
        return Records(found) if isinstance(index, slice) else found

    def rows(self) -> list[tuple[str, ...]]:
        """One line of text per Record, in the order of `COLUMNS`."""
        return [
            (
                str(r.uid)[:12],
                r.name,
                str(r.version),
                summarise(r.arguments, 50),
                r.result_summary(),
                r.created,
                str(r.metadata.get("directory", "")),
            )
            for r in self
        ]

    def title(self) -> str:
        return f"{len(self)} record{'' if len(self) == 1 else 's'}"

    def __rich__(self):
        from rich.table import Table

        table = Table(*COLUMNS, title=text(self.title()), title_justify="left")
        for row in self.rows():
            table.add_row(*(text(cell) for cell in row))
        return table

    def _repr_html_(self) -> str:
        return html_grid(self.title(), COLUMNS, self.rows())
