"""MyQueue integration: every instruction can be a task of a workflow.

A workflow script (``mq workflow workflow.py tree/*/``) calls recipes with
`run`, which decides from the store whether a call is done::

    from ase.io import read
    from asr.workflow import run

    def workflow():
        relax = run("asr.relax", atoms=read("structure.json"), resources="8:4h")
        gs = run("asr.gs", atoms=relax.result.atoms, resources="8:1h")
        if gs.result.gap > 0:
            run("asr.emasses", atoms=relax.result.atoms, deps=[gs])

Modules: `runner` (`run`, handles and placeholders), `taskfiles` (the
arguments handed to a task), `task` (``python -m asr.workflow.task``, what a
task runs), `local` (MyQueue's local scheduler for a tree), `drive`
(submit until done, status of every call), `healing` (failures classified
and retried with changed arguments), `resubmit` (tasks stopped at their
wall time or out of memory, resubmitted with more), `estimate` (wall times
fitted to the store's Records, for ``resources="auto"``). See
docs/workflows.md.
"""

from __future__ import annotations

from typing import Any

# Imported when first used: a task process (``python -m asr.workflow.task``)
# needs neither MyQueue nor the runner, and starts faster without them.
_LAZY = {
    "Handle": "runner",
    "NeedsResult": "runner",
    "Pending": "runner",
    "run": "runner",
    "MissingResultError": "errors",
    "Ref": "taskfiles",
    "WorkflowError": "errors",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'asr.workflow' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


__all__ = [
    "Handle",
    "MissingResultError",
    "NeedsResult",
    "Pending",
    "Ref",
    "WorkflowError",
    "run",
]
