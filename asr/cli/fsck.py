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

    verbose = settings().verbose
    out = console()
    out.print(f"Checked {report.objects} objects and {report.refs} refs.")
    if report.unreachable:
        out.print(
            f"{len(report.unreachable)} unreachable objects (harmless: a writer"
            " stopped before its ref moved)",
            soft_wrap=True,
        )
        if verbose:
            for oid in report.unreachable:
                out.print(f"  {oid}", style="dim")
    if report.tmp_files:
        hint = "" if repair else " (`asr fsck --repair` removes those of dead writers)"
        out.print(
            f"{len(report.tmp_files)} temporary files{hint}",
            soft_wrap=True,
            markup=False,
        )
        if verbose:
            for path in report.tmp_files:
                out.print(f"  {path}", style="dim", markup=False)
    if report.torn_logs:
        out.print(
            f"{len(report.torn_logs)} commit logs end in a torn frame (harmless:"
            " a writer was killed while appending)",
            soft_wrap=True,
        )
    if report.lost_refs:
        out.print(
            f"{len(report.lost_refs)} records without a ref (a writer killed"
            " before its refs moved, or a lost refs table): `asr fsck --repair`"
            " re-attaches them",
            style="yellow",
            soft_wrap=True,
        )
        if verbose:
            for uid in report.lost_refs:
                out.print(f"  {uid}", style="dim", markup=False)
    if report.tableless_packs:
        out.print(
            f"{len(report.tableless_packs)} packs without a table (harmless: a"
            " writer was killed before it wrote the table; `asr fsck --repair`"
            " indexes them)",
            soft_wrap=True,
        )
    if report.ahead:
        out.print(
            f"{len(report.ahead)} revisions newer than their ref (harmless: a"
            " writer stopped before its ref moved)",
            soft_wrap=True,
        )
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
