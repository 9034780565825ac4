"""Drive a workflow to its end, and say where every call of it stands.

`mq workflow` submits what it can see: the calls before the first control
flow that needs a result which is not there yet. `drive` repeats
wait-for-the-queue / ``mq workflow`` until a round submits nothing new.
`status` runs the workflow function in each folder, as MyQueue does, and
reports every call: done (its Record), queued, running, failed (with the
exception), or new — and where the workflow waits for a result.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WorkflowError
from .taskfiles import failure_file

ACTIVE = ("queued", "hold", "running")


@dataclass
class CallStatus:
    """Where one call of a workflow stands.

    `state` is done, new (not submitted), one of MyQueue's task states
    (queued, hold, running, FAILED, TIMEOUT, MEMORY, CANCELED), or waiting
    (the row of a folder whose workflow needs a result to go on).
    """

    folder: Path
    name: str
    state: str
    detail: str = ""
    failures: list = field(default_factory=list)  # failure objects in the store


def mq_home(folder: Path) -> Path:
    """The MyQueue home (the folder with `.myqueue/`) of `folder`."""
    from myqueue.config import find_home_folder

    try:
        return find_home_folder(Path(folder).resolve())
    except ValueError:
        raise WorkflowError(
            f"{folder} is in no MyQueue tree: run `mq init` in the tree's root"
        ) from None


def _queue(home: Path):
    from myqueue.config import Configuration
    from myqueue.queue import Queue

    return Queue(Configuration.read(home))


def queue_states(home: Path, folders: Sequence[Path]) -> dict[tuple[Path, str], tuple]:
    """(folder, task name) -> (state, error) of the newest task of that name."""
    from myqueue.selection import Selection

    found: dict[tuple[Path, str], tuple] = {}
    with _queue(home) as queue:
        selection = Selection(folders=[Path(f).resolve() for f in folders])
        for task in sorted(queue.select(selection), key=lambda t: t.id):
            found[(task.folder, task.cmd.name)] = (task.state.name, task.error)
    return found


def counts(home: Path, folders: Sequence[Path]) -> Counter:
    """How many tasks in `folders` are in each state (one SQL query)."""
    from myqueue.selection import Selection
    from myqueue.states import State

    with _queue(home) as queue:
        selection = Selection(folders=[Path(f).resolve() for f in folders])
        where, args = selection.sql_where_statement(queue.folder.parent)
        rows = queue.sql(
            f"SELECT state, COUNT(*) FROM tasks WHERE {where or '1'} GROUP BY state",
            args,
        )
        return Counter({State(state).name: n for state, n in rows})


def _max_id(home: Path) -> int:
    with _queue(home) as queue:
        return next(iter(queue.sql("SELECT MAX(id) FROM tasks")))[0] or 0


def wait(
    home: Path,
    folders: Sequence[Path],
    *,
    poll: float = 0.5,
    timeout: float | None = None,
    alive: Callable[[], bool] | None = None,
    progress: Callable[[Counter], None] | None = None,
) -> Counter:
    """Wait until no task in `folders` is queued, held or running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        now = counts(home, folders)
        if progress is not None:
            progress(now)
        if not any(now[state] for state in ACTIVE):
            return now
        if alive is not None and not alive():
            raise WorkflowError("the scheduler stopped while tasks were waiting")
        if deadline is not None and time.monotonic() > deadline:
            raise WorkflowError(f"tasks still waiting after {timeout} s")
        time.sleep(poll)


def submit(script: Path, folders: Sequence[Path], force: bool = False) -> int:
    """``mq workflow SCRIPT FOLDERS``; returns how many tasks it submitted.

    The workflow first runs here in every folder, as `mq workflow` will run
    it: a mistake such as a missing input file is then one error naming its
    folder, not a traceback of `mq workflow`.
    """
    function = _workflow_function(script)
    for folder in folders:
        _collect(function, script, folder)
    home = mq_home(folders[0])
    before = _max_id(home)
    command = [sys.executable, "-m", "myqueue", "workflow", str(script)]
    command += [str(f) for f in folders] + (["--force"] if force else [])
    done = subprocess.run(command)
    if done.returncode:
        raise WorkflowError(f"`mq workflow` failed (exit status {done.returncode})")
    return _max_id(home) - before


def drive(
    script: Path,
    folders: Sequence[Path],
    *,
    force: bool = False,
    poll: float = 0.5,
    timeout: float | None = None,
    alive: Callable[[], bool] | None = None,
    progress: Callable[[Counter], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> int:
    """Submit and wait until a round submits nothing; returns the rounds run.

    Between rounds, tasks stopped at their wall time or out of memory are
    resubmitted with more, as their policy says (`asr.workflow.resubmit`);
    `report` gets one line for each.
    """
    from .resubmit import heal

    home = mq_home(folders[0])
    rounds = 0
    while True:
        wait(home, folders, poll=poll, timeout=timeout, alive=alive, progress=progress)
        for line in heal(home, folders):
            if report is not None:
                report(line)
        if not submit(script, folders, force=force and rounds == 0):
            return rounds
        rounds += 1


def status(script: Path, folders: Sequence[Path]) -> list[CallStatus]:
    """Every call the workflow makes in each folder, and its state."""
    function = _workflow_function(script)
    rows: list[CallStatus] = []
    for given in folders:
        folder = Path(given).resolve()
        handles, stopped = _collect(function, script, given)
        for handle in handles:
            row = CallStatus(folder, handle.name, "new")
            if handle.terms is not None:
                row.failures = _failures(folder, handle.terms)
            if handle.done:
                row.state, row.detail = "done", f"Record {handle.record.uid}"
                attempts = handle.record.metadata.get("attempts") or []
                if attempts:
                    row.detail += f", healed after {len(attempts) + 1} attempts"
            rows.append(row)
        if stopped is not None:
            rows.append(CallStatus(folder, "...", "waiting", f"needs {stopped}"))
    _add_queue_states(rows, folders)
    return rows


def _failures(folder: Path, terms) -> list:
    from myqueue.utils import chdir

    from .healing import failures
    from .runner import _store_here

    with chdir(folder):
        return failures(_store_here(), terms)


def _workflow_function(script: Path) -> Callable[[], None]:
    from myqueue import workflow as mq

    return mq.get_workflow_function(Path(script).resolve())


def _collect(
    function: Callable[[], None], script: Path, folder: Path
) -> tuple[list, str | None]:
    """Run the workflow in `folder` as `mq workflow` does.

    Returns the handles of its calls and what it waits for (None if it ran
    to its end). A missing file or another `WorkflowError` of the workflow
    becomes a `WorkflowError` that names `folder`.
    """
    from myqueue import workflow as mq
    from myqueue.utils import chdir

    from .runner import NeedsResult, tracing

    with chdir(Path(folder).resolve()), tracing() as handles:
        stopped = None
        mq.runner.tasks = []
        mq.runner.workflow_script = Path(script).resolve()
        try:
            function()
        except NeedsResult as err:
            stopped = repr(err.pending)
        except mq.StopCollecting:
            stopped = "a result that is not there yet"
        except (OSError, WorkflowError) as err:
            raise WorkflowError(_in_folder(err, folder)) from err
        finally:
            mq.runner.tasks = None
    return handles, stopped


def _in_folder(err: OSError | WorkflowError, folder: Path) -> str:
    """The message of `err`, raised by the workflow in `folder`, naming it."""
    if not isinstance(err, OSError) or err.filename is None or not err.strerror:
        return f"{folder}: {err}"
    name = str(err.filename)
    if isinstance(err, FileNotFoundError) and not Path(name).is_absolute():
        return f"no {name} in {folder}"
    return f"{folder}: {err.strerror}: {name}"


def _add_queue_states(rows: list[CallStatus], folders: Sequence[Path]) -> None:
    try:
        home = mq_home(folders[0])
    except WorkflowError:
        return  # no MyQueue tree (yet): every call that is not done is new
    states = queue_states(home, folders)
    for row in rows:
        if row.state != "new":
            continue
        state, error = states.get((row.folder, row.name), ("new", ""))
        row.state = state
        failed = failure_file(row.folder / ".asr-tasks" / f"{row.name}.args")
        if failed.is_file() and state not in ACTIVE:
            row.detail = failed.read_text().splitlines()[0].removeprefix("Error: ")
        elif error and error != "-":
            row.detail = error
