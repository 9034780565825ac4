"""`asr database fromtree|totree|merge|split|treelinks|crosslinks`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from asr.database import DatabaseError

from .common import add_user_error, console, progress_bar

add_user_error(DatabaseError)


def _problems(label: str, problems, style: str = "yellow") -> None:
    out = console()
    for problem in problems:
        out.print(Text(f"{label} {problem}", style=style), soft_wrap=True)


def _grouped_warnings(problems) -> None:
    """One line per distinct message, with how many folders it concerns."""
    folders: dict[str, list[str]] = {}
    for problem in problems:
        folders.setdefault(problem.message, []).append(problem.folder)
    out = console()
    for message, where in folders.items():
        place = where[0] if len(where) == 1 else f"{where[0]} and {len(where) - 1} more"
        out.print(Text(f"warning: {place}: {message}", style="dim"), soft_wrap=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.group()
def database() -> None:
    """Collect Records into an ASE database (SQLite or PostgreSQL) and back."""


@database.command()
@click.argument("folders", nargs=-1, required=True)
@click.option(
    "--out",
    "-o",
    default="project.db",
    show_default=True,
    help="Database: a file name (SQLite) or a postgresql:// address.",
)
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [default: the number of cores, at most 8].",
)
@click.option(
    "--structure",
    default="structure.json",
    show_default=True,
    help="Name of the structure file in each folder.",
)
@click.option("--force", is_flag=True, help="Replace the rows of an existing database.")
def fromtree(
    folders: tuple[str, ...], out: str, workers: int | None, structure: str, force: bool
) -> None:
    """Write one row per material folder (FOLDERS) into a database.

    A row holds the folder's structure, the database keys of the newest
    Record of each recipe made there, every Record of the folder (with
    their revisions and dependencies) and the folder's links.json.
    """
    from asr.database.fromtree import fromtree as run

    report = run(
        folders,
        out,
        workers=workers,
        structure=structure,
        force=force,
        progress=progress_bar,
    )
    _problems("skipped", report.skipped)
    _grouped_warnings(report.warnings)
    summary = (
        f"Wrote {_plural(report.rows, 'row')} ({_plural(report.records, 'record')})"
        f" to {out}"
    )
    if report.skipped:
        summary += f"; skipped {_plural(len(report.skipped), 'folder')}"
    console().print(summary + ".", soft_wrap=True, markup=False)
    if report.skipped and not report.rows:
        raise click.ClickException("no folder could be read")


@database.command()
@click.argument("db")
@click.option(
    "--folder",
    "-f",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Top folder of the tree to write (its store is FOLDER/.asr).",
)
@click.option(
    "--structure",
    default="structure.json",
    show_default=True,
    help="Name of the structure file to write in each folder.",
)
def totree(db: str, folder: Path, structure: str) -> None:
    """Rebuild the material folders and their store from the database DB."""
    from asr.database.totree import totree as run

    report = run(db, folder, structure=structure, progress=progress_bar)
    _problems("skipped", report.skipped)
    _problems("conflict:", report.conflicts)
    console().print(
        f"Wrote {_plural(report.folders, 'folder')} and "
        f"{_plural(report.records, 'record')} "
        f"({_plural(report.objects, 'new object')}) into {folder / '.asr'}.",
        soft_wrap=True,
        markup=False,
    )


@database.command()
@click.argument("dbs", nargs=-1, required=True)
@click.option("--out", "-o", required=True, help="The merged database.")
@click.option("--force", is_flag=True, help="Replace the rows of an existing database.")
def merge(dbs: tuple[str, ...], out: str, force: bool) -> None:
    """Merge databases DBS (in order) into one; rows of a material become one."""
    from asr.database.merge import merge as run

    if len(dbs) < 2:
        raise click.UsageError("give at least two databases to merge")
    report = run(list(dbs), out, force=force, progress=progress_bar)
    _problems("conflict:", report.conflicts)
    console().print(
        f"Wrote {_plural(report.rows, 'row')} to {out} "
        f"({_plural(report.merged, 'material')} merged).",
        soft_wrap=True,
        markup=False,
    )


@database.command()
@click.argument("db")
@click.argument("parts", type=click.IntRange(min=1))
@click.option(
    "--out-prefix",
    default=None,
    help="Names of the parts: PREFIX1.db, PREFIX2.db, ... [default: DB name + '-'].",
)
@click.option("--force", is_flag=True, help="Replace the rows of existing databases.")
def split(db: str, parts: int, out_prefix: str | None, force: bool) -> None:
    """Divide the rows of DB evenly into PARTS databases."""
    from asr.database.merge import split as run

    names = run(db, parts, out_prefix=out_prefix, force=force, progress=progress_bar)
    console().print(
        f"Wrote {', '.join(names)}.", soft_wrap=True, markup=False, highlight=False
    )


@database.command()
@click.argument("folders", nargs=-1, required=True)
@click.option(
    "--structure",
    default="structure.json",
    show_default=True,
    help="Name of the structure file in each folder.",
)
def treelinks(folders: tuple[str, ...], structure: str) -> None:
    """Link material folders whose structures share a reduced formula.

    Runs the recipe asr.database.treelinks and writes links.json in FOLDERS.
    """
    from asr.recipes.database.treelinks import link_tree

    from .records import install  # noqa: F401  (user errors of the core)

    report = link_tree(folders, structure)
    _problems("skipped", [f"{path}: {why}" for path, why in report.skipped])
    if report.record is None:
        raise click.ClickException("no structure could be read")
    result = report.record.result
    console().print(
        f"{_plural(result.nlinks, 'link')} between "
        f"{_plural(len(result.formulas), 'folder')}; "
        f"wrote {_plural(len(report.written), 'links.json file')}.",
        soft_wrap=True,
        markup=False,
    )


@database.command()
@click.argument("db")
@click.argument("others", nargs=-1, required=True)
def crosslinks(db: str, others: tuple[str, ...]) -> None:
    """Link the rows of DB to rows of OTHERS with the same reduced formula.

    Runs the recipe asr.database.crosslinks and stores the links in the rows
    of DB (row.data["links"]).
    """
    from asr.database.rows import connect
    from asr.recipes.database.crosslinks import link_databases

    from .records import install  # noqa: F401  (user errors of the core)

    for name in (db, *others):
        connect(name, must_exist=True)  # one clear line for a missing file
    report = link_databases(db, list(others))
    result = report.record.result
    console().print(
        f"{_plural(result.nlinks, 'link')} from {_plural(result.nlinked, 'row')}; "
        f"updated {_plural(report.updated, 'row')} of {db}.",
        soft_wrap=True,
        markup=False,
    )


@database.command()
@click.argument("db")
def describe(db: str) -> None:
    """List the keys of DB: label, description, unit, rank and rows with it.

    Stock ASE (``ase db``) does not show key descriptions; this is the
    terminal view of what the web app shows. Ranked keys come first.
    """
    from rich.table import Table

    from asr.database.rows import connect, count_rows
    from asr.webapp.config import AppConfig
    from asr.webapp.db import compute_key_stats

    found = connect(db, must_exist=True)
    total = count_rows(found)
    try:
        config = AppConfig.from_metadata(found.metadata)
        stats = compute_key_stats(found)
    except Exception as err:  # a file that is no ASE database
        raise DatabaseError(f"cannot read {db}: {err}") from None
    ranked = config.ranked()
    names = [k for k in ranked if k in stats.keys] + sorted(
        k for k in stats.keys if k not in ranked
    )
    table = Table(title=f"{db}: {_plural(total, 'row')}", title_justify="left")
    for column, style in [
        ("key", "bold cyan"),
        ("label", ""),
        ("description", "dim"),
        ("unit", ""),
        ("rank", ""),
        ("rows", ""),
    ]:
        table.add_column(
            column,
            style=style,
            justify="right" if column in ("rank", "rows") else "left",
        )
    for name in names:
        info = config.describe(name)
        rank = "" if info.priority is None else str(info.priority)
        table.add_row(
            name,
            info.label if info.label != name else "",
            info.description if info.description != info.label else "",
            info.unit,
            rank,
            str(stats.keys[name].count),
        )
    console().print(table)
    if not any(k in config.key_descriptions for k in names):
        console().print(
            "No key has a description: was this database written by "
            "asr database fromtree?",
            style="yellow",
        )
