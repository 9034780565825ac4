"""Tasks stopped at their wall time or out of memory, resubmitted with more."""

from __future__ import annotations

import os
import subprocess
import sys

from ase.build import bulk
from wfhelpers import write_flow

from asr.core.cache import select
from asr.store import open_store
from asr.workflow import drive
from asr.workflow.healing import FAILURE, MEMORY, TIMEOUT, UNKNOWN, classify
from asr.workflow.resubmit import Stopped, bigger, resources_text, stopped_class

SLOW = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        # About 14 steps of 0.5 s: longer than 5 s, shorter than 10 s.
        run("wfsteps:slow_relax", read("structure.json"), 0.5, resources="1:5s",
            handlers={"timeout": ["time"] * 3})  # a loaded machine starts slowly
"""


def records(home, name):
    return list(select(open_store(home), name=name))


def show(home, uid) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "show", str(uid)],
        cwd=home,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_time_out_is_resubmitted_with_twice_the_time_and_continues(mq):
    folder = mq.home / "tree" / "slow"
    folder.mkdir()
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.rattle(0.05, seed=1)
    atoms.write(folder / "structure.json")
    flow = write_flow(mq.home, SLOW)
    lines: list[str] = []

    drive.drive(flow, [folder], poll=0.2, timeout=120, report=lines.append)

    (row,) = drive.status(flow, [folder])
    assert row.state == "done", row
    (record,) = records(mq.home, "test.wf.slow_relax")
    first = record.metadata["attempts"][0]
    # The scheduler said TIMEOUT; the task came back with twice the time ...
    assert first["class"] == TIMEOUT
    assert first["resources"] == "1:10s"
    assert "stopped by the scheduler after 5 s" in first["error"]
    assert "wall time exceeded, resubmitted with 1:10s" in lines[0]
    # ... and went on from the last image of the first attempt's trajectory.
    assert record.result["resumed_steps"] > 0
    assert record.result["nsteps"] > record.result["resumed_steps"]
    failure = open_store(mq.home).get(open_store(mq.home).get_ref(first["failure"]))
    assert failure.payload["type"] == FAILURE
    assert failure.payload["class"] == TIMEOUT
    shown = show(mq.home, record.uid)
    assert "resubmitted with 1:10s" in shown
    status = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "workflow", "status", "flow.py"]
        + [str(folder)],
        cwd=mq.home,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert "wall time exceeded" in status.stdout
    assert "resubmitted with 1:10s" in status.stdout  # the failure's "then"
    # The resubmission's notes are gone; a rerun finds the call done.
    assert not list((folder / ".asr-tasks").glob("*.resources"))
    assert drive.submit(flow, [folder]) == 0


MEMORY_FLOW = """
    from pathlib import Path
    from asr.workflow import run

    def workflow():
        megabytes = int(Path("MEGABYTES").read_text())
        run("wfsteps:hungry", megabytes, resources="1:1:1m")
"""


def test_out_of_memory_gets_more_cores_within_limits_then_gives_up(mq):
    folders = []
    for name, megabytes in [("fits", 200), ("never", 2000)]:
        folder = mq.home / "tree" / name
        folder.mkdir()
        (folder / "MEGABYTES").write_text(str(megabytes))
        folders.append(folder)
    flow = write_flow(mq.home, MEMORY_FLOW)
    lines: list[str] = []

    drive.drive(flow, folders, poll=0.2, timeout=120, report=lines.append)

    fits, never = drive.status(flow, folders)
    assert fits.state == "done"
    (record,) = records(mq.home, "test.wf.hungry")
    (attempt,) = record.metadata["attempts"]
    assert attempt["class"] == MEMORY
    assert "MemoryError" in attempt["error"]
    assert attempt["resources"] == "2:1:1m"  # one process, with two cores' memory
    # 1 -> 2 -> 3 cores (all the local scheduler has), then it gives up.
    assert never.state in ("MEMORY", "FAILED")
    assert "gave up after 3 attempts: out of memory" in never.detail
    assert sum("never" in line and "resubmitted" in line for line in lines) == 2
    assert [f.payload["class"] for f in never.failures] == [MEMORY] * 3
    # Given up is given up: another round resubmits nothing.
    assert drive.drive(flow, folders, poll=0.2, timeout=60) == 0


KILLED = """
    from asr.workflow import run

    def workflow():
        run("wfsteps:killed", resources="1:1:1m")
"""


def test_a_kill_by_sigkill_is_taken_for_out_of_memory(mq):
    folder = mq.home / "tree" / "Cu"
    flow = write_flow(mq.home, KILLED)
    drive.drive(flow, [folder], poll=0.2, timeout=60)
    (row,) = drive.status(flow, [folder])
    assert row.state == "done"
    (record,) = records(mq.home, "test.wf.killed")
    (attempt,) = record.metadata["attempts"]
    assert attempt["class"] == MEMORY
    assert attempt["resources"] == "2:1:1m"


def test_only_what_the_scheduler_says_is_a_time_out():
    assert stopped_class("TIMEOUT", "") == TIMEOUT
    assert stopped_class("MEMORY", "") == MEMORY
    assert stopped_class("FAILED", "Error: x failed: MemoryError: ") == MEMORY
    assert stopped_class("FAILED", "Error: x failed: RuntimeError: no") is None
    assert stopped_class("FAILED", "LockTimeoutError: lock held") is None
    assert classify(TimeoutError("socket timed out")) == UNKNOWN
    slurm = "slurmstepd: error: *** JOB 7 CANCELLED AT 12:00 DUE TO TIME LIMIT ***"
    assert classify(slurm) == TIMEOUT
    assert classify("slurmstepd: error: Detected 1 oom-kill event(s)") == MEMORY


def stopped(**kwargs) -> Stopped:
    given = dict(cores=8, processes=8, tmax=3600, running_time=3600.0)
    return Stopped(".", "t", 1, "TIMEOUT", "", **{**given, **kwargs})


def test_bigger_resources_stay_within_limits():
    assert resources_text(bigger(stopped(), "time", 64)) == "8:2h"
    assert bigger(stopped(tmax=2 * 24 * 3600), "time", 64) is None
    assert resources_text(bigger(stopped(), "cores", 64)) == "16:1h"  # MPI: ranks
    assert resources_text(bigger(stopped(processes=1), "cores", 64)) == "16:1:1h"
    mpi = stopped(cores=48, processes=48)
    assert resources_text(bigger(mpi, "cores", 64)) == "64:1h"
    assert bigger(stopped(cores=64), "cores", 64) is None
