"""`asr cache ls [name=asr.gs] [key=value ...]` and `asr cache rm SELECTION`."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from asr.core.cache import all_records, matches
from asr.core.presentation import summarise

from .common import console, open_store
from .render import to_json


def parse_selection(words: tuple[str, ...]) -> dict[str, str]:
    criteria = {}
    for word in words:
        if "=" not in word:
            raise click.UsageError(
                f"a selection is key=value (e.g. name=asr.gs), not {word!r}"
            )
        key, value = word.split("=", 1)
        criteria[key] = value
    return criteria


@click.command()
@click.argument("selection", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def ls(selection: tuple[str, ...], fmt: str) -> None:
    """List records: `asr cache ls name=asr.gs version=0 arguments.ecut=500`."""
    criteria = parse_selection(selection)
    records = [r for r in all_records(open_store()) if matches(r, criteria)]
    records.sort(key=lambda r: (r.name, r.metadata.get("start", 0)))
    if fmt == "json":
        rows = [
            {
                "uid": r.uid,
                "revision": r.oid,
                "name": r.name,
                "version": r.version,
                "arguments": to_json(r.arguments),
                "created": r.created,
                "directory": r.metadata.get("directory"),
            }
            for r in records
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("uid", "name", "v", "arguments", "created", "folder")
    for r in records:
        cells = (
            r.uid[:12],
            r.name,
            str(r.version),
            summarise(r.arguments, 50),
            r.created,
            str(r.metadata.get("directory", "")),
        )
        table.add_row(*map(Text, cells))
    out = console()
    out.print(table)
    out.print(f"{len(records)} records")


@click.command()
@click.argument("selection", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def rm(selection: tuple[str, ...], yes: bool) -> None:
    """Forget the records matching SELECTION (their objects stay until pruned)."""
    criteria = parse_selection(selection)
    store = open_store()
    records = [r for r in all_records(store) if matches(r, criteria)]
    if not records:
        console().print("No records match.")
        return
    if not yes:
        click.confirm(f"Remove {len(records)} records?", abort=True)
    for record in records:
        store.delete_ref(record.uid)
    console().print(f"Removed {len(records)} records.")
