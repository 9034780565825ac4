"""`asr show ID` (porcelain) and `asr cat-object ID` (plumbing).

ID is a full or abbreviated object id or record uid, optionally with
``~N`` (N revisions back); a uid names the record's newest revision.
"""

from __future__ import annotations

import json

import click

from .common import console, open_store
from .render import object_json, render_object, to_json


@click.command()
@click.argument("spec", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
def show(spec: str, as_json: bool) -> None:
    """Show an object: a Record with its arguments, result and provenance."""
    from .records import install

    store = open_store()
    install(store)
    obj = store.resolve_object(spec)
    if as_json:
        click.echo(json.dumps(object_json(obj), indent=2))
    else:
        console().print(render_object(obj))


@click.command("cat-object")
@click.argument("spec", metavar="ID")
@click.option(
    "--canonical",
    is_flag=True,
    help="Write the object's canonical bytes (as stored) instead.",
)
def cat_object(spec: str, canonical: bool) -> None:
    """Write an object's payload: a blob's bytes as they are, else JSON."""
    store = open_store()
    obj = store.resolve_object(spec)
    if canonical or isinstance(obj.payload, bytes):
        with click.open_file("-", "wb") as out:
            out.write(store.get_raw(obj.oid) if canonical else obj.payload)
    else:
        click.echo(json.dumps(to_json(obj.payload), indent=2))
