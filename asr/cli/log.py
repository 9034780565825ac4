"""`asr log ID`: the revision chain of a record, newest first (like git log)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import click
from rich.text import Text

from asr.store import StoredObject

from .common import console, open_store, short_id

DATE_FIELDS = (("metadata", "start"), ("metadata", "date"))


def field(value: Any, *path: str) -> Any:
    """``value[a][b]`` for mappings, ``value.a.b`` for objects; None if absent."""
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        else:
            value = getattr(value, key, None)
        if value is None:
            return None
    return value


def revision_date(payload: Any) -> str | None:
    for path in DATE_FIELDS:
        value = field(payload, *path)
        if value is not None:
            return format_date(value)
    return None


def format_date(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value).astimezone()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %z").strip()
    return str(value)


def revision_description(payload: Any) -> tuple[str | None, str | None]:
    """(description, migration) of the revision that made this payload."""
    revision = field(payload, "revision")
    if revision is None:
        return None, None
    if isinstance(revision, str):
        return revision, None
    description = field(revision, "description")
    migration = field(revision, "migration")
    return (
        None if description is None else str(description),
        None if migration is None else str(migration),
    )


@click.command()
@click.argument("words", metavar="ID", nargs=-1, required=True)
@click.option("--oneline", is_flag=True, help="One short line per revision.")
@click.option("--deps", is_flag=True, help="Walk the dependency DAG as a tree.")
@click.option(
    "--graph",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the dependency DAG as Graphviz dot to this file.",
)
def log(words: tuple[str, ...], oneline: bool, deps: bool, graph: str | None) -> None:
    """Show the revisions of a record, from ID back to the first one.

    Give an ID, or a selection as in `asr cache ls` that matches one record.
    """
    from .show import resolve_words

    store = open_store()
    head = resolve_words(store, words)
    start = head.oid
    out = console()
    if deps or graph:
        from .dependencies import dependency_dot, dependency_tree

        if graph:
            with open(graph, "w") as f:
                f.write(dependency_dot(store, head))
            out.print(Text(f"Wrote {graph}"))
        if deps:
            out.print(dependency_tree(store, head))
        return
    for number, obj in enumerate(store.log(start)):
        head = obj.uid is not None and store.get_ref(obj.uid) == obj.oid
        if oneline:
            out.print(_oneline(obj, head), soft_wrap=True)
            continue
        if number:
            out.print()
        for line in _entry(obj, head):
            out.print(line, soft_wrap=True)


def _oneline(obj: StoredObject, head: bool) -> Text:
    description, _migration = revision_description(obj.payload)
    date = revision_date(obj.payload)
    return Text.assemble(
        (short_id(obj.oid), "yellow"),
        (" (head)", "cyan") if head else "",
        (f" {date}", "green") if date else "",
        f" {description}" if description else "",
    )


def _entry(obj: StoredObject, head: bool) -> list[Text]:
    title = Text.assemble(("revision ", "yellow"), (obj.oid, "yellow"))
    if head:
        title.append(" (head)", style="cyan")
    lines = [title]
    description, migration = revision_description(obj.payload)
    for label, value in (
        ("kind", None if obj.kind == "record" else obj.kind),
        ("uid", obj.uid),
        ("date", revision_date(obj.payload)),
        ("migration", migration),
    ):
        if value is not None:
            lines.append(Text(f"{label + ':':<11}{value}"))
    if description is not None:
        lines.append(Text())
        lines += [Text(f"    {line}") for line in description.splitlines()]
    attempts = field(obj.payload, "metadata", "attempts")
    if isinstance(attempts, list) and attempts:
        from asr.core.record import attempt_lines

        lines.append(Text())
        lines.append(Text(f"    made after {len(attempts) + 1} attempts:"))
        lines += [Text(f"    {line}") for line in attempt_lines(attempts)]
    return lines
