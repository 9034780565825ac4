"""Tasks the scheduler stopped, resubmitted with more wall time or cores.

Wall time and memory are resources, not arguments: a task cannot heal them
itself. Between rounds `asr workflow run` (`asr.workflow.drive`) hands every
stopped task here. The class comes from what the scheduler tells, never
from a guess: MyQueue's TIMEOUT (the local scheduler killed the task at its
wall time; SLURM's TIMEOUT), MyQueue's MEMORY (a ``MemoryError`` or the
OOM killer in the task's error file), or a FAILED task whose error is a
``MemoryError`` or a kill by signal 9. The policy of the call
(`healing.policy_for`) names the steps: ``time`` asks for twice the wall
time (at most `MAX_TMAX`), ``cores`` for twice the cores, and with them
twice the memory of a scheduler that gives memory per core (at most the
largest node, or this machine's cores for the local scheduler).

A resubmission writes, beside the task file, the resources to ask for
(``.resources``, which `run` uses instead of the workflow's) and the
attempts so far (``.attempts``, which the task puts into its Record's
``metadata["attempts"]``); the failed attempt is kept in the store as a
failure object. The task is then removed from MyQueue's list, with the
tasks that were cancelled because of it, and the next ``mq workflow``
submits them again. Nothing else changes: the call keeps its arguments, so
it continues from what it saved (`asr.relax` from its trajectory).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .healing import (
    CLASS_TEXT,
    MEMORY,
    NODE,
    TIMEOUT,
    classify,
    failures,
    give_up_text,
    keep_failure,
    policy_for,
)
from .taskfiles import (
    attempts_file,
    failure_file,
    read_header,
    resources_file,
    task_file,
)

MAX_TMAX = 2 * 24 * 3600  # seconds: MyQueue's own limit when it resubmits
RESOURCE_CLASSES = (TIMEOUT, MEMORY, NODE)
STOPPED = ("TIMEOUT", "MEMORY", "FAILED")


@dataclass
class Stopped:
    """A task the scheduler reports as stopped, and what it was given."""

    folder: Path
    name: str
    id: int
    state: str  # MyQueue's: TIMEOUT, MEMORY or FAILED
    error: str  # the task's own one line, else MyQueue's
    cores: int
    processes: int
    tmax: int  # seconds
    running_time: float
    nodename: str = ""

    @property
    def file(self) -> Path:
        return task_file(self.folder, self.name)


def stopped_class(state: str, error: str) -> str | None:
    """The resource class of a stopped task (None: not a resource failure)."""
    if state == "TIMEOUT":
        return TIMEOUT
    cls = classify(error, state)
    return cls if cls in (MEMORY, NODE) else None


def bigger(task: Stopped, step: str, max_cores: int) -> dict[str, Any] | None:
    """The resources of one step (None: the step is at its limit)."""
    found: dict[str, Any] = {"cores": task.cores, "tmax": f"{task.tmax}s"}
    if task.processes != task.cores:
        found["processes"] = task.processes
    if task.nodename:
        found["nodename"] = task.nodename
    if step == "time":
        tmax = min(2 * task.tmax, MAX_TMAX)
        if tmax <= task.tmax:
            return None
        found["tmax"] = f"{tmax}s"
    elif step == "cores":
        cores = min(2 * task.cores, max_cores)
        if cores <= task.cores:
            return None
        found["cores"] = cores
        # An MPI task gets more ranks; a one-process task stays one process
        # and gets the memory of more cores.
        if task.processes == task.cores and task.processes > 1:
            found.pop("processes", None)
        else:
            found["processes"] = task.processes
    else:
        return None
    return found


def resources_text(resources: dict[str, Any]) -> str:
    """``cores[:processes][:nodename]:tmax``, as MyQueue writes resources."""
    parts = [str(resources["cores"])]
    if "processes" in resources and resources["processes"] != resources["cores"]:
        parts.append(str(resources["processes"]))
    if resources.get("nodename"):
        parts.append(resources["nodename"])
    from myqueue.resources import seconds_to_short_time_string

    parts.append(seconds_to_short_time_string(int(str(resources["tmax"])[:-1])))
    return ":".join(parts)


def heal(home: Path, folders: Sequence[Path]) -> list[str]:
    """Resubmit the stopped tasks of `folders` whose policy has a step left.

    Returns one line per task handled (resubmitted, or given up on). A task
    given up on stays stopped, with the reason in its ``.failed`` file.
    """
    from .drive import _queue

    lines = []
    with _queue(home) as queue:
        max_cores = _max_cores(home, queue.config)
        remove: list[int] = []
        for task in _stopped(queue, folders):
            if not task.file.is_file():
                continue  # not a task of ours
            line, resubmit = _handle(task, max_cores)
            if line:
                lines.append(line)
            if resubmit:
                remove += [task.id, *_cancelled_by(queue, task.id)]
        if remove:
            queue.remove(remove)
    return lines


def _max_cores(home: Path, config) -> int:
    """The most cores a task can get: the largest node's, or the local
    scheduler's (a task asking for more would never start)."""
    if config.scheduler == "local":
        from .local import server_cores

        return server_cores(home) or os.cpu_count() or 1
    return max((n[1].get("cores", 1) for n in config.nodes), default=1)


def _stopped(queue, folders: Sequence[Path]) -> list[Stopped]:
    from myqueue.selection import Selection

    newest = {}
    selection = Selection(folders=[Path(f).resolve() for f in folders])
    for t in sorted(queue.select(selection), key=lambda t: t.id):
        newest[(t.folder, t.cmd.name)] = t
    found = []
    for t in newest.values():
        if t.state.name not in STOPPED:
            continue
        failed = failure_file(task_file(t.folder, t.cmd.name))
        error = failed.read_text().split("\n", 1)[0] if failed.is_file() else ""
        r = t.resources
        found.append(
            Stopped(
                folder=t.folder,
                name=t.cmd.name,
                id=t.id,
                state=t.state.name,
                error=error or (t.error if t.error not in ("", "-") else ""),
                cores=r.cores,
                processes=r.processes,
                tmax=r.tmax,
                running_time=t.running_time(),
                nodename=r.nodename,
            )
        )
    return found


def _cancelled_by(queue, id: int) -> list[int]:
    """The tasks cancelled because task `id` stopped (transitively)."""
    found: list[int] = []
    todo = [id]
    while todo:
        rows = queue.sql(
            "SELECT d.id FROM dependencies AS d JOIN tasks AS t ON t.id = d.id "
            "WHERE d.did = ? AND t.state = 'C'",
            [todo.pop()],
        )
        for (dependent,) in rows:
            if dependent not in found:
                found.append(dependent)
                todo.append(dependent)
    return found


def _handle(task: Stopped, max_cores: int) -> tuple[str, bool]:
    """Decide for one stopped task: (a line saying what was done, resubmit?)."""
    cls = stopped_class(task.state, task.error)
    if cls is None or "gave up after" in task.error:
        return "", False  # not ours to heal, or given up on already
    header = read_header(task.file)
    attempts = _read_attempts(task.file)
    policy = policy_for(_load(header), header.get("handlers"))
    steps = [s for s in policy.get(cls, []) if s in ("time", "cores")]
    used = sum(1 for a in attempts if a.get("class") == cls and "resources" in a)
    error = _error_text(task, cls)
    attempt = {
        "attempt": len(attempts) + 1,
        "class": cls,
        "error": error,
        "wall_time": round(task.running_time, 3),
    }
    change = None
    for step in steps[used:]:  # a step at its limit is skipped
        change = bigger(task, step, max_cores)
        if change is not None:
            attempt.update(handler=cls, step=step, resources=resources_text(change))
            break
    attempt["failure"] = _keep(task, attempt)
    attempts.append(attempt)
    if change is None:
        text = f"Error: {give_up_text(header['name'], cls, attempts)}, no Record stored"
        failure_file(task.file).write_text(text + "\n")
        return f"{_here(task.folder)}: {text.removeprefix('Error: ')}", False
    _write_attempts(task.file, attempts)
    resources_file(task.file).write_text(json.dumps(change))
    failure_file(task.file).unlink(missing_ok=True)
    return (
        f"{_here(task.folder)}: {task.name}: {CLASS_TEXT[cls]}, "
        f"resubmitted with {attempt['resources']}"
    ), True


def _here(folder: Path) -> str:
    """`folder` relative to the working folder, when inside it."""
    cwd = Path.cwd()
    return str(folder.relative_to(cwd) if folder.is_relative_to(cwd) else folder)


def _error_text(task: Stopped, cls: str) -> str:
    if task.state == "TIMEOUT":
        return f"wall time exceeded: stopped by the scheduler after {task.tmax} s"
    if task.state == "MEMORY" and not task.error:
        return "out of memory: stopped by the scheduler"
    return task.error.removeprefix("Error: ")[:300]


def _load(header: dict) -> str:
    """The instruction's name, with its module imported (it may declare a
    policy of its own)."""
    from asr.core.plugins import get_recipe

    return get_recipe(header["loader"]).name


def _keep(task: Stopped, attempt: dict) -> str | None:
    """A failure object for the stopped attempt, under the call's index key."""
    from myqueue.utils import chdir

    from .taskfiles import Resolver

    try:
        with chdir(task.folder):
            resolver = Resolver()
            instr, arguments, _ = resolver.call(task.file)
            store = resolver.store(task.folder)  # opened now: sees the task's commits
            terms = instr.terms(arguments)
            if task.state != "TIMEOUT" and failure_file(task.file).is_file():
                # The task failed by itself: its healer kept the failure.
                kept = failures(store, terms)
                if kept:
                    newest = max(kept, key=lambda o: o.payload["metadata"]["time"])
                    return str(newest.uid)
            return keep_failure(
                store,
                instr,
                terms,
                arguments,
                attempt,
                f"{task.state}: {attempt['error']}",
            )
    except Exception:  # noqa: BLE001 - the resubmission matters more than the note
        return None


def _read_attempts(path: Path) -> list[dict]:
    from asr.store import decode

    try:
        return list(decode(attempts_file(path).read_bytes()))
    except FileNotFoundError:
        return []


def _write_attempts(path: Path, attempts: list[dict]) -> None:
    from asr.store import encode
    from asr.store.files import write_atomic

    write_atomic(attempts_file(path), encode(attempts), durable=False)
