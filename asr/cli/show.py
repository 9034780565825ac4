"""`asr show ID` (porcelain) and `asr cat-object ID` (plumbing).

ID is a full or abbreviated object id or record uid, optionally with
``~N`` (N revisions back); a uid names the record's newest revision.
`asr show` also takes a selection (``name=asr.gs folder=tree/MoS2``) that
matches exactly one record.
"""

from __future__ import annotations

import json

import click

from .common import console, open_store
from .render import object_json, render_object, to_json


@click.command()
@click.argument("words", metavar="ID", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
def show(words: tuple[str, ...], as_json: bool) -> None:
    """Show an object: a Record with its arguments, result and provenance.

    Give an ID, or a selection as in `asr cache ls` that matches one record.
    """
    from .records import install

    store = open_store()
    install(store)
    obj = resolve_words(store, words)
    if as_json:
        click.echo(json.dumps(object_json(obj), indent=2))
    else:
        console().print(render_object(obj))


def resolve_words(store, words: tuple[str, ...]):
    """The object an ID names, or the newest revision of the one Record a
    selection (``name=asr.gs folder=tree/Si``) matches."""
    from asr.core.selection import looks_like_selection

    if len(words) == 1 and not looks_like_selection(words[0]):
        return store.resolve_object(words[0])
    return store.get(_one_record(store, words).oid)


def _one_record(store, words: tuple[str, ...]):
    """The one Record the selection matches; else list the matches and say so."""
    from .listing import records_table, select_records

    found = select_records(store, words)
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.ClickException(f"no records match {' '.join(words)}")
    console().print(records_table(found))
    raise click.ClickException(
        f"{len(found)} records match {' '.join(words)}; "
        "give one ID or narrow the selection"
    )


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
