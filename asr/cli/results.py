"""`asr results NAME`: print the results of a recipe and write their figures."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.text import Text

from asr.core.presentation import rich_value
from asr.core.selection import Criterion, parse_selection

from .common import console, open_store
from .listing import select_records


@click.command()
@click.argument("name")
@click.argument("selection", nargs=-1)
@click.option(
    "--all",
    "everywhere",
    is_flag=True,
    help="Records made in any folder, not only this one.",
)
@click.option(
    "--figures",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("figures"),
    show_default=True,
    help="Where to write the figures.",
)
def results(
    name: str, selection: tuple[str, ...], everywhere: bool, folder: Path
) -> None:
    """Print the results of recipe NAME made in this folder, with figures.

    SELECTION narrows them as in `asr cache ls` (e.g. `ecut=500`); one
    that names `folder` replaces "this folder".
    """
    from .records import install  # noqa: F401  (user errors of the core)

    store = open_store()
    criteria = [Criterion("name", "=", name)]
    here_only = not everywhere and all(
        c.key != "folder" for c in parse_selection(selection)
    )
    if here_only:
        here = os.path.relpath(Path.cwd().resolve(), store.root.parent)
        criteria.append(Criterion("folder", "=", here))
    found = select_records(store, selection, *criteria)
    if not found:
        where = "made in this folder (try --all)" if here_only else "in the store"
        raise click.ClickException(f"no records of {name} {where}")
    out = console()
    for record in found:
        out.print(
            Text.assemble(
                (record.name, "bold"), f" {record.summary()}  ", (record.uid, "dim")
            )
        )
        out.print(rich_value(record.result))
        figures = getattr(record.result, "figures", None)
        if callable(figures):
            folder.mkdir(parents=True, exist_ok=True)
            for path in figures(folder):
                out.print(Text(f"figure: {path}"))
