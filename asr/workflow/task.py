"""``python -m asr.workflow.task NAME FILE``: run one instruction as a task.

MyQueue starts this in the material's folder; the store is the nearest
`.asr/` above it. The task file `FILE` holds the arguments (see
`asr.workflow.taskfiles`); Refs to other tasks' results are resolved from
the store first. A Record already in the store is used, not recomputed.

On success it prints the Record's uid. On failure nothing is stored (the
instruction commits only finished results): it prints one line
``Error: NAME failed, no Record stored: <exception>`` (what ``mq ls`` shows)
and the traceback, writes both to ``<task>.failed`` beside the task file for
``asr workflow status``, and exits with status 1. A later run of the same
task (``mq resubmit``, ``mq workflow --force``) removes that file when it
succeeds, and with it the notes of a resubmission (``.attempts``,
``.resources``; see `asr.workflow.resubmit`).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from asr.core.mpi import is_root, on_root

from .taskfiles import (
    Resolver,
    WorkflowError,
    attempts_file,
    failure_file,
    resources_file,
)

USAGE = "usage: python -m asr.workflow.task NAME TASK-FILE"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    name, file = argv
    path = Path(file)

    try:
        uid, found = run_task(name, path)
    except Exception as err:
        if is_root():
            report_failure(name, path, err)
        return 1
    if is_root():
        how = "was in the store" if found else "computed and stored"
        print(f"{name}: Record {uid} {how}")
        for done_with in (failure_file, attempts_file, resources_file):
            done_with(path).unlink(missing_ok=True)
    return 0


def run_task(name: str, path: Path) -> tuple[str, bool]:
    """Resolve the arguments of task file `path` and call its instruction.

    A failure is handed to the call's handler policy (`asr.workflow.healing`):
    the call is retried with changed arguments while a step is left.
    """

    from asr.core import get_store

    from .healing import Healer, find_call, policy_for

    instr, arguments, header = Resolver().call(path)
    if header["loader"] != name:
        raise WorkflowError(f"{path} is a task file of {header['loader']}, not {name}")
    store = get_store()
    found = on_root(lambda: find_call(instr, arguments, store))
    if found is not None:
        return str(found.uid), True
    policy = policy_for(instr.name, header.get("handlers"))
    healer = Healer(instr, arguments, store, policy, write=is_root())
    record = healer.run(earlier_attempts(path))
    return str(record.uid), False


def earlier_attempts(path: Path) -> list[dict]:
    """Attempts of this task in earlier jobs (resubmitted by `asr workflow run`)."""
    from asr.store import decode

    try:
        return list(decode(attempts_file(path).read_bytes()))
    except FileNotFoundError:
        return []


def report_failure(name: str, path: Path, err: BaseException) -> None:
    from .healing import GaveUp

    if isinstance(err, GaveUp):
        summary = f"Error: {err}, no Record stored"
    else:
        summary = f"Error: {name} failed, no Record stored: {type(err).__name__}: {err}"
    summary = " ".join(summary.split())
    trace = "".join(traceback.format_exception(err))
    print(summary, file=sys.stderr)
    print(trace, file=sys.stderr)
    try:
        failure_file(path).write_text(f"{summary}\n\n{trace}")
    except OSError:
        pass  # the exception itself is what matters; it is on stderr


if __name__ == "__main__":
    sys.exit(main())
