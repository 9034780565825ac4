"""Helpers of the workflow tests: workflow scripts and `mq` in a tree."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path


def write_flow(folder: Path, text: str, name: str = "flow.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


class MyQueue:
    """`mq` in a tree whose tasks run on MyQueue's local scheduler."""

    def __init__(self, home: Path):
        self.home = home

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "myqueue", *args],
            cwd=self.home,
            capture_output=True,
            text=True,
        )
        if check and done.returncode:
            raise AssertionError(f"mq {' '.join(args)}:\n{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def wait(self, timeout: float = 300):
        from asr.workflow.drive import wait

        return wait(self.home, [self.home / "tree"], poll=0.2, timeout=timeout)

    def states(self) -> dict[str, str]:
        """Task name -> state of every task in the queue."""
        from asr.workflow.drive import queue_states

        found = queue_states(self.home, [self.home])
        return {name: state for (_, name), (state, _) in found.items()}


@contextlib.contextmanager
def local_queue(tree: Path, cores: int):
    """`mq config local` + `mq init` in `tree`, and a local scheduler running."""
    from asr.workflow import local

    queue = MyQueue(tree)
    queue("config", "local", "--in-place")
    queue("init")
    local.start(tree, cores=cores)
    try:
        yield queue
    finally:
        local.stop(tree)
