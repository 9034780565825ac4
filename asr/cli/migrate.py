"""`asr cache migrate [--apply]`: bring old Records up to date."""

from __future__ import annotations

import click
from rich.table import Table

from asr.core.migration import apply_migrations, plan_migrations

from .common import console, err_console, open_store, progress_bar


@click.command()
@click.option("--apply", "do_apply", is_flag=True, help="Write the migrated Records.")
def migrate(do_apply: bool) -> None:
    """List migratable Records by strategy; with --apply, migrate them.

    With --apply, Records are planned and migrated in one pass, a batch at a
    time, and the table comes after: what was migrated.
    """
    from asr.core.plugins import load_all

    load_all()  # instructions declare their migrations
    store = open_store()
    if do_apply:
        with progress_bar("migrating", None) as advance:
            plan = apply_migrations(store, progress=advance)
    else:
        plan = plan_migrations(store)
    out = console()
    for failure in plan.failures:
        err_console().print(f"[red]cannot migrate: {failure}[/red]", soft_wrap=True)
    if not plan.total:
        out.print("Nothing to migrate: every Record is up to date.")
        if plan.failures:
            raise SystemExit(1)
        return
    table = Table("records", "migrations")
    for description, count in plan.groups():
        table.add_row(str(count), description)
    out.print(table)
    if not do_apply:
        out.print(f"{plan.total} Records can be migrated: run with --apply.")
        return
    out.print(
        f"Migrated {plan.migrated} Records"
        + (
            f"; {plan.conflicts} were migrated by another process"
            if plan.conflicts
            else ""
        )
        + "."
    )
    if plan.migrated:
        out.print("[dim]Their refs are loose files until `asr gc` packs them.[/dim]")
    if plan.failures:
        raise SystemExit(1)
