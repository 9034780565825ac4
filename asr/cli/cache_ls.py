"""`asr cache ls [SELECTION...]` and `asr cache rm SELECTION...`."""

from __future__ import annotations

import json

import click

from .common import console, open_store
from .listing import records_table, select_records
from .render import to_json


@click.command()
@click.argument("selection", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--duplicates",
    is_flag=True,
    help="Only Records made twice with the same arguments (e.g. on two machines).",
)
def ls(selection: tuple[str, ...], fmt: str, duplicates: bool) -> None:
    """List records: `asr cache ls name=asr.g* folder=tree/* 'ecut>=500'`.

    Keys: name, version, uid, revision, folder, created, or an argument,
    result or metadata key (`ecut`, `arguments.ecut`, `metadata.host`).
    Operators: = != < > <= >= (quote < and > for the shell); `*` and `?`
    are wildcards; numbers compare as numbers, `created` as a date/time.
    """
    store = open_store()
    records = select_records(store, selection)
    if duplicates:
        from asr.core.transfer import duplicates as _duplicates

        twice = _duplicates(store)
        records = [r for r in records if r.uid in twice]
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
    table, count = records_table(records), len(records)
    del records  # rendering a long table allocates a lot: not with these alive
    out = console()
    out.print(table)
    out.print(f"{count} records")


@click.command()
@click.argument("selection", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def rm(selection: tuple[str, ...], yes: bool) -> None:
    """Forget the records matching SELECTION (their objects stay until pruned)."""
    store = open_store()
    records = select_records(store, selection)
    if not records:
        console().print("No records match.")
        return
    if not yes:
        click.confirm(f"Remove {len(records)} records?", abort=True)
    for record in records:
        store.delete_ref(record.uid)
    console().print(f"Removed {len(records)} records.")
