"""`asr fsck`: check every object, pack, ref and revision chain."""

from __future__ import annotations

import click
from rich.text import Text

from asr.store import StoreError
from asr.store.fsck import fsck as check_store

from .common import console, open_store, progress_bar, settings


@click.command()
@click.option(
    "--repair",
    is_flag=True,
    help="Salvage: rebuild the index, refs and copies, move what cannot be"
    " trusted into .asr/damaged/, and say what is lost for good.",
)
@click.pass_context
def fsck(ctx: click.Context, repair: bool) -> None:
    """Verify the store; exit code 1 if anything is broken."""
    store = open_store()
    try:
        total: int | None = sum(1 for _ in store.iter_object_ids())
    except (StoreError, ValueError):  # a broken pack table: fsck will say so
        total = None
    with progress_bar("Checking objects", total) as advance:
        report = check_store(store, repair=repair, progress=advance)

    out = console()
    out.print(f"Checked {report.objects} objects and {report.refs} refs.")
    tmp_hint = "" if repair else " (`asr fsck --repair` removes those of dead writers)"
    notes = (
        (
            report.unreachable,
            "unreachable objects (harmless: a writer stopped before its ref moved)",
        ),
        (report.tmp_files, f"temporary files{tmp_hint}"),
        (
            report.torn_logs,
            "commit logs end in a torn frame (harmless: a writer was killed"
            " while appending)",
        ),
        (
            report.lost_refs,
            "records without a ref (a writer killed before its refs moved, or a"
            " lost refs table): `asr fsck --repair` re-attaches them",
        ),
        (
            report.tableless_packs,
            "packs without a table (harmless: a writer was killed before it"
            " wrote the table; `asr fsck --repair` indexes them)",
        ),
        (
            report.ahead,
            "revisions newer than their ref (harmless: a writer stopped before"
            " its ref moved)",
        ),
    )
    for items, what in notes:
        note(out, items, what, settings().verbose)
    for error in report.errors:
        out.print(Text(error, style="red"), soft_wrap=True)
    if report.errors:
        out.print(Text(f"{len(report.errors)} errors", style="bold red"))
    for line in report.repaired:
        out.print(Text(f"Repaired: {line}", style="green"), soft_wrap=True)
    for line in report.lost:
        out.print(Text(f"Lost: {line}", style="red"), soft_wrap=True)
    if repair and (report.errors or report.repaired):
        again = check_store(open_store())
        left = len(again.errors)
        text = "No errors left." if not left else f"{left} errors left."
        out.print(Text(f"After the repair: {text}", style="red" if left else "green"))
        if left or report.lost:
            ctx.exit(1)
        return
    if report.errors:
        ctx.exit(1)
    out.print(Text("No errors.", style="green"))


def note(out, items, what: str, verbose: bool) -> None:
    """A count of things fsck noticed that are not errors; each with -v."""
    if not items:
        return
    out.print(f"{len(items)} {what}", soft_wrap=True, markup=False)
    if verbose:
        for item in items:
            out.print(f"  {item}", style="dim", markup=False)
