"""`asr results NAME`: print the results of a recipe and write their figures."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.text import Text

from asr.core.cache import all_records
from asr.core.presentation import rich_value

from .common import console, open_store


@click.command()
@click.argument("name")
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
def results(name: str, everywhere: bool, folder: Path) -> None:
    """Print the results of recipe NAME made in this folder, with figures."""
    from .records import install  # noqa: F401  (user errors of the core)

    store = open_store()
    here = os.path.relpath(Path.cwd().resolve(), store.root.parent)
    found = [
        r
        for r in all_records(store)
        if r.name == name and (everywhere or r.metadata.get("directory") == here)
    ]
    if not found:
        where = "in the store" if everywhere else "made in this folder (try --all)"
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
