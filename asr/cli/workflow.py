"""`asr workflow run|status|estimate|local`: MyQueue workflows of instructions.

``asr workflow run workflow.py tree/*/ --local`` is ``mq workflow`` repeated
until nothing more can be submitted, on a local scheduler it starts and
stops; ``asr workflow status`` shows where every call stands. On a cluster,
plain ``mq workflow workflow.py tree/*/`` (rerun now and then) does the same
with SLURM, PBS or LSF. See docs/workflows.md.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from asr.workflow.errors import WorkflowError

from .common import add_user_error, console, err_console

add_user_error(WorkflowError)

STATE_STYLES = {
    "done": "green",
    "new": "cyan",
    "queued": "cyan",
    "hold": "cyan",
    "running": "yellow",
    "waiting": "dim",
}

folders_argument = click.argument(
    "folders",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
script_argument = click.argument(
    "script", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@click.group()
def workflow() -> None:
    """Run workflows of instructions as MyQueue tasks."""


@workflow.command("run")
@script_argument
@folders_argument
@click.option(
    "--local", is_flag=True, help="Run the tasks here, on MyQueue's local scheduler."
)
@click.option("--cores", type=int, help="Cores of the local scheduler (all).")
@click.option("--force", is_flag=True, help="Submit failed tasks again.")
@click.option("--timeout", type=float, help="Give up after this many seconds.")
def run(
    script: Path,
    folders: tuple[Path, ...],
    local: bool,
    cores: int | None,
    force: bool,
    timeout: float | None,
) -> None:
    """Submit the tasks of SCRIPT in FOLDERS until all that can run ran.

    Runs `mq workflow SCRIPT FOLDERS`, waits for the queue, and repeats
    until a round submits nothing new; then shows what failed.
    """
    from asr.workflow import drive
    from asr.workflow import local as localq

    home = _home(folders[0], create=local)
    started = had_daemon = False
    if local:
        started = localq.server_pid(home) is None
        had_daemon = localq.daemon_file(home).is_file()
        localq.start(home, cores)
    alive = (lambda: localq.server_pid(home) is not None) if local else None
    out = err_console()
    try:
        with out.status("waiting for the queue") as spinner:

            def progress(now: Counter) -> None:
                spinner.update(_counts_text(now))

            rounds = drive.drive(
                script,
                list(folders),
                force=force,
                timeout=timeout,
                alive=alive,
                progress=progress,
                report=lambda line: out.print(Text(line)),
            )
    finally:
        if started:
            localq.stop(home)
        if local and not had_daemon:
            localq.stop_daemon(home)  # `mq workflow` started it for this run
    rows = drive.status(script, list(folders))
    console().print(
        f"{_plural(len(folders), 'folder')}, {_summary(rows)} "
        f"({_plural(rounds, 'round')} of mq workflow)"
    )
    healed = [row for row in rows if "healed after" in row.detail]
    if healed:
        console().print(_failures_table(healed))
    failed = [row for row in rows if row.state not in ("done", "waiting")]
    if failed:
        console().print(_table(failed))
        raise SystemExit(1)


@workflow.command("status")
@script_argument
@folders_argument
@click.option("--all", "show_all", is_flag=True, help="Show done calls too.")
def status(script: Path, folders: tuple[Path, ...], show_all: bool) -> None:
    """Where every call of SCRIPT in FOLDERS stands (nothing is submitted).

    Failed attempts kept in the store (see docs/workflows.md, healing) are
    listed below, with the uid `asr show` takes.
    """
    from asr.workflow import drive

    rows = drive.status(script, list(folders))
    shown = [r for r in rows if show_all or r.state != "done"]
    console().print(_table(shown))
    attempts = [r for r in rows if r.failures]
    if attempts:
        console().print(_failures_table(attempts))
    console().print(_summary(rows))


@workflow.command("estimate")
@click.argument("name", required=False)
@click.option(
    "--margin", type=float, default=2.0, show_default=True, help="Times the estimate."
)
@click.option(
    "--floor", default="10m", show_default=True, help="Least wall time asked for."
)
@click.option(
    "--min-records",
    type=int,
    default=5,
    show_default=True,
    help="Records a fit needs (fewer: the fallback resources).",
)
@click.option("--records", is_flag=True, help="One row per Record.")
def estimate(
    name: str | None, margin: float, floor: str, min_records: int, records: bool
) -> None:
    """Wall-time fits of the store's Records (of instruction NAME), and how
    well each Record's time is predicted from the others (leave-one-out).

    A ratio is predicted / measured time; "hit limit" counts the Records
    that would have run out of the wall time resources="auto" asks for,
    "over margin" those that took longer than margin x predicted (what
    would run out without the floor).
    """
    from myqueue.resources import T

    from asr.workflow import estimate as est

    from .common import open_store

    try:
        floor_seconds = T(floor)
    except (KeyError, ValueError):
        raise click.BadParameter(f"{floor!r} (use e.g. 30s, 10m, 2h)") from None
    found = est.check_store(open_store(), name, margin, floor_seconds, min_records)
    if not found:
        raise WorkflowError(
            f"no Records of {name} with a wall time in the store"
            if name
            else "no Records with a wall time in the store"
        )
    fits = Table("instruction", "Records", "wall time", "scatter")
    fits.title = "fits: ln(time) least squares on ln(features)"
    summary = Table(
        "instruction",
        "predicted",
        "median",
        "lowest",
        "highest",
        "hit limit",
        "over margin",
    )
    summary.title = (
        f"predicted / measured, each Record from the others "
        f"(margin {margin:g}x, floor {floor})"
    )
    rows = Table("instruction", "uid", "features", "measured", "predicted", "ratio")
    every = []
    for instruction, (model, checks) in found.items():
        every += checks
        fits.add_row(
            Text(instruction),
            Text(str(len(checks))),
            Text(model.formula() if model else f"too few (< {min_records})"),
            Text(f"x{math.exp(model.spread):.2f}" if model else ""),
        )
        summary.add_row(*_honesty_cells(est.honesty(instruction, checks, margin)))
        for c in sorted(checks, key=lambda c: c.example.wall_time):
            items = sorted(c.example.features.items())
            feats = " ".join(f"{k}={v:g}" for k, v in items)
            rows.add_row(
                Text(instruction),
                Text(c.example.uid[:12]),
                Text(feats),
                Text(f"{c.example.wall_time:.3g} s"),
                Text(f"{c.predicted:.3g} s" if c.predicted is not None else "-"),
                Text(_ratio(c.ratio), style="red" if c.hit_limit else ""),
            )
    if len(found) > 1:
        summary.add_section()
        summary.add_row(*_honesty_cells(est.honesty("all", every, margin)))
    console().print(fits)
    if records:
        console().print(rows)
    console().print(summary)


def _honesty_cells(h) -> list[Text]:
    return [
        Text(h.name),
        Text(f"{h.predicted} of {h.examples}"),
        Text(_ratio(h.median_ratio)),
        Text(_ratio(h.lowest_ratio)),
        Text(_ratio(h.highest_ratio)),
        Text(str(h.hits), style="red" if h.hits else ""),
        Text(str(h.beyond_margin), style="red" if h.beyond_margin else ""),
    ]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@workflow.group("local")
def local() -> None:
    """Start or stop MyQueue's local scheduler of a tree."""


@local.command("start")
@click.argument("home", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cores", type=int, help="Tasks run at once (default: all cores).")
def local_start(home: Path, cores: int | None) -> None:
    """Start the scheduler of HOME (holding .myqueue/; made if missing)."""
    from asr.workflow import local as localq

    pid = localq.start(_home(home, create=True), cores)
    console().print(f"local scheduler running (pid {pid})")


@local.command("stop")
@click.argument("home", default=".", type=click.Path(file_okay=False, path_type=Path))
def local_stop(home: Path) -> None:
    """Stop the scheduler of HOME once its running tasks end."""
    from asr.workflow import local as localq

    stopped = localq.stop(_home(home, create=False))
    console().print("stopped" if stopped else "no local scheduler was running")


def _home(folder: Path, create: bool) -> Path:
    """The MyQueue home of `folder`; with `create`, the working folder if none.

    MyQueue makes ~/.myqueue/ on every call, so every folder below the home
    folder has a MyQueue home; for a local scheduler that one is not used
    (its config.py is the user's default for every tree): the working
    folder gets a home of its own.
    """
    from asr.workflow.drive import mq_home

    try:
        home = mq_home(folder)
    except WorkflowError:
        if not create:
            raise
    else:
        if not create or home != Path.home().resolve() or home == Path.cwd().resolve():
            return home
    home = Path.cwd().resolve()
    if not Path(folder).resolve().is_relative_to(home):
        raise WorkflowError(
            f"{folder} is not inside the working folder: run this in the tree's root"
        )
    (home / ".myqueue").mkdir(exist_ok=True)
    return home


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary(rows) -> str:
    states = Counter(row.state for row in rows if row.state != "waiting")
    text = f"{_plural(sum(states.values()), 'instruction')}: {_counts_text(states)}"
    healed = _summary_healed(rows)
    if healed:
        text += f" ({healed} healed)"
    waiting = sum(row.state == "waiting" for row in rows)
    if waiting:
        text += f"; waiting for a result in {_plural(waiting, 'folder')}"
    return text


def _counts_text(states: Counter) -> str:
    order = ["done", "running", "queued", "hold", "new", "FAILED", "TIMEOUT"]
    order += sorted(set(states) - set(order))
    return ", ".join(f"{states[s]} {s}" for s in order if states[s])


def _failures_table(rows) -> Table:
    from asr.workflow.healing import CLASS_TEXT

    table = Table("instruction", "attempt", "failure", "class", "error", "then")
    table.title = "failed attempts kept in the store"
    for row in rows:
        for obj in row.failures:
            p = obj.payload
            then = ""
            if "argument" in p:
                then = f"{p['argument']} -> {p['new']!r}"
            elif "resources" in p:
                then = f"resubmitted with {p['resources']}"
            table.add_row(
                Text(row.name),
                Text(str(p.get("attempt", ""))),
                Text(str(obj.uid)),
                Text(CLASS_TEXT.get(p.get("class"), str(p.get("class")))),
                Text(str(p.get("error", ""))),
                Text(then),
            )
    return table


def _summary_healed(rows) -> int:
    return sum("healed after" in row.detail for row in rows)


def _table(rows) -> Table:
    table = Table("folder", "instruction", "state", "detail")
    cwd = Path.cwd()
    for row in rows:
        folder = (
            row.folder.relative_to(cwd)
            if row.folder.is_relative_to(cwd)
            else row.folder
        )
        style = STATE_STYLES.get(row.state, "red")
        table.add_row(
            Text(str(folder)), Text(row.name), Text(row.state, style), Text(row.detail)
        )
    return table
