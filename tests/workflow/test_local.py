"""Workflows on MyQueue's local scheduler, for real: tasks are processes.

Each test runs `mq config local` and `mq init` in its own folder, starts a
local scheduler (three tasks at once) and submits with `mq workflow`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import wfsteps
from ase.io import read
from wfhelpers import write_flow

from asr.core import use_store
from asr.store import open_store
from asr.store.fsck import fsck

pytestmark = pytest.mark.slow

FLOW = """
    import os
    from ase.io import read
    from asr.workflow import run

    FACTOR = float(os.environ.get("FACTOR", "1.02"))

    def workflow():
        atoms = read("structure.json")
        run("wfsteps:nap", 3.0, tag=os.path.basename(os.getcwd()))
        energy = run("wfsteps:energy", atoms)
        strained = run("wfsteps:strain", atoms, factor=FACTOR)
        run("wfsteps:energy", atoms=strained.result, resources="1:1m")
        if energy.result < 1000:
            run("asr.structureinfo", atoms=atoms)
"""


def test_tree_runs_in_parallel_into_one_store_and_reruns_submit_nothing(
    mq, monkeypatch
):
    flow = write_flow(mq.home, FLOW)
    out = mq("workflow", str(flow), "tree/Cu/", "tree/Al/", "tree/CuAu/")
    assert "12 tasks submitted" in out  # structureinfo waits for the energy
    mq.wait()
    assert set(mq.states().values()) == {"done"}
    out = mq("workflow", str(flow), "tree/Cu/", "tree/Al/", "tree/CuAu/")
    assert "3 tasks submitted" in out  # now the energies are known
    mq.wait()
    assert list(mq.states().values()).count("done") == 15

    # The three naps (one per folder) ran side by side.
    store = open_store(mq.home)
    naps = []
    with use_store(store):
        for name in ("Cu", "Al", "CuAu"):
            record = wfsteps.nap.lookup(wfsteps.nap.arguments(3.0, tag=name))
            naps.append(record.result)
    assert len({nap["pid"] for nap in naps}) == 3
    overlaps = [
        min(a["end"], b["end"]) - max(a["start"], b["start"])
        for a, b in itertools.combinations(naps, 2)
    ]
    assert max(overlaps) > 0
    report = fsck(store)
    assert not report.errors, report.errors

    # Nothing is submitted again: every call finds its Record.
    out = mq("workflow", str(flow), "tree/Cu/", "tree/Al/", "tree/CuAu/")
    assert "submitted" not in out
    assert len(mq.states()) == 15

    # A changed argument: only the strain and the energy after it.
    monkeypatch.setenv("FACTOR", "1.03")
    out = mq("workflow", str(flow), "tree/Cu/")
    assert "2 tasks submitted" in out
    mq.wait()
    assert list(mq.states().values()).count("done") == 17


FRAGILE = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        atoms = read("structure.json")
        fragile = run("wfsteps:fragile", atoms)
        run("wfsteps:nap", 0.1, tag=fragile.result)
        run("wfsteps:energy", atoms)
"""


def failed_run(mq):
    flow = write_flow(mq.home, FRAGILE)
    (mq.home / "tree/Cu/BROKEN").write_text("")
    out = mq("workflow", str(flow), "tree/Cu/")
    assert "3 tasks submitted" in out
    mq.wait()
    states = {name.rsplit("-", 1)[0]: s for name, s in mq.states().items()}
    assert states == {
        "test.wf.fragile": "FAILED",
        "test.wf.nap": "CANCELED",
        "test.wf.energy": "done",
    }
    return flow


def test_a_failed_task_is_reported_and_picked_up_after_a_fix(mq):
    flow = failed_run(mq)
    message = (
        "Error: wfsteps:fragile failed, no Record stored: "
        "RuntimeError: the folder holds a file BROKEN"
    )
    assert message in mq("ls", "-s", "F")
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "asr.cli.main",
            "workflow",
            "status",
            str(flow),
            "tree/Cu/",
        ],
        cwd=mq.home,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    ).stdout
    assert "FAILED" in status and "the folder holds a file BROKEN" in status
    assert "CANCELED" in status  # the nap needed the result of the failed task
    with use_store(open_store(mq.home)):  # the failure left no Record
        atoms = read(mq.home / "tree/Cu/structure.json")
        assert wfsteps.fragile.lookup(wfsteps.fragile.arguments(atoms)) is None

    (mq.home / "tree/Cu/BROKEN").unlink()
    out = mq("workflow", str(flow), "tree/Cu/")
    assert "Use --force" in out and "submitted" not in out
    out = mq("workflow", "--force", str(flow), "tree/Cu/")
    assert "2 tasks submitted" in out  # the failed and the canceled one
    mq.wait()
    assert mq("workflow", str(flow), "tree/Cu/").count("submitted") == 0
    assert not list((mq.home / "tree/Cu/.asr-tasks").glob("*.failed"))


def test_mq_resubmit_after_a_fix(mq):
    flow = failed_run(mq)
    (mq.home / "tree/Cu/BROKEN").unlink()
    mq("resubmit", "-s", "FC", "-r", "tree/")
    mq.wait()
    assert sorted(mq.states().values()) == ["done"] * 3
    assert "submitted" not in mq("workflow", str(flow), "tree/Cu/")


TWIN = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        atoms = read("structure.json")
        strained = run("wfsteps:strain", atoms, factor=1.1)
        held = run("wfsteps:hold", "release", deps=[strained])
        run("wfsteps:energy", strained.result, deps=[held])
"""


def test_a_rerun_while_tasks_wait_submits_nothing_twice(tree):
    # One core: the strain runs, then the hold (until the test releases it);
    # the energy waits in the queue while a rerun of `mq workflow` already
    # knows its input. (The hold's and the energy's dependencies make that
    # order certain: without them MyQueue queued the energy before the hold,
    # and the test had to catch the energy's short run, which it missed
    # under load.)
    from wfhelpers import local_queue

    with local_queue(tree, cores=1) as mq:
        flow = write_flow(tree, TWIN)
        assert "3 tasks submitted" in mq("workflow", str(flow), "tree/Al/")
        strain = next(n for n in mq.states() if n.startswith("test.wf.strain"))
        for _ in range(1200):
            states = mq.states()
            if states[strain] == "done" and "queued" in states.values():
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no moment with the strain done and a task queued: {states}")
        out = mq("workflow", str(flow), "tree/Al/")
        assert "submitted" not in out
        (tree / "tree" / "Al" / "release").touch()
        mq.wait()
        assert sorted(mq.states().values()) == ["done"] * 3


def processes_in(folder, python_only: bool = False) -> list[int]:
    """Pids of the task processes running in `folder` (from /proc)."""
    mark = b"\x00-m\x00asr.workflow.task\x00" if python_only else b"asr.workflow.task"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if mark in cmdline and cwd == str(folder):
            found.append(int(entry))
    return found


def test_mq_rm_stops_a_running_task_with_all_its_processes(mq):
    flow = write_flow(
        mq.home,
        """
        from asr.workflow import run

        def workflow():
            run("wfsteps:nap", 60.0)
        """,
    )
    folder = mq.home / "tree" / "Cu"
    assert "1 task submitted" in mq("workflow", str(flow), "tree/Cu/")
    for _ in range(300):
        if processes_in(folder, python_only=True):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the task did not start")
    mq("rm", "--force", "-s", "r", "tree/Cu/")
    for _ in range(100):
        if not processes_in(folder):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"still running: {processes_in(folder)}")


def test_a_new_local_scheduler_forgets_the_tasks_of_a_killed_one(mq):
    from asr.workflow import local

    flow = write_flow(
        mq.home,
        """
        from asr.workflow import run

        def workflow():
            for i in range(4):
                run("wfsteps:nap", 30.0, tag=str(i))
        """,
    )
    assert "4 tasks submitted" in mq("workflow", str(flow), "tree/Cu/")
    folder = mq.home / "tree" / "Cu"
    for _ in range(300):
        if len(processes_in(folder, python_only=True)) == 3:  # three cores
            break
        time.sleep(0.1)
    socket_folder = local.socket_address(mq.home).parent
    local.remove_stale_socket(mq.home)  # a live server's socket answers: kept
    assert socket_folder.exists()
    os.kill(local.server_pid(mq.home), signal.SIGKILL)  # the server dies ...
    for pid in processes_in(folder):  # ... and so do its tasks
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    assert sorted(mq.states().values()) == ["queued"] + ["running"] * 3

    local.start(mq.home, cores=3)
    assert mq.states() == {}
    assert not socket_folder.exists()  # the dead server's, in /tmp
    assert "4 tasks submitted" in mq("workflow", str(flow), "tree/Cu/")
    mq("rm", "--force", "-s", "qr", "tree/Cu/")


def test_tasks_use_as_many_threads_as_they_have_cores(monkeypatch):
    from asr.workflow.local import THREAD_VARIABLES, thread_limits

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert {thread_limits(1, 1)[n] for n in THREAD_VARIABLES} == {"1"}
    assert thread_limits(8, 1)["OPENBLAS_NUM_THREADS"] == "8"  # s:8:1h
    assert thread_limits(8, 4)["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice stays
    assert thread_limits(8, 1)["OMP_NUM_THREADS"] == "3"


UPGRADE = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        strained = run("wfsteps:strain", read("structure.json"), factor=1.1)
        run("wfsteps:versioned", strained.result)
"""


def test_an_upgraded_instruction_runs_again_after_its_pending_task(tree, monkeypatch):
    # The second task is submitted while the strain is not done, so it is
    # named after its Ref. After an upgrade (a new version of its
    # instruction) that done task made another call: it must not be taken
    # for the new one, or the workflow waits for a Record nothing makes.
    from wfhelpers import local_queue

    from asr.core import use_store
    from asr.core.cache import all_records
    from asr.store import open_store

    version = tree / "version"
    version.write_text("0")
    monkeypatch.setenv("TEST_WF_VERSION_FILE", str(version))
    with local_queue(tree, cores=1) as mq:
        flow = write_flow(tree, UPGRADE)
        assert "2 tasks submitted" in mq("workflow", str(flow), "tree/Al/")
        mq.wait()
        version.write_text("1")
        out = mq("workflow", str(flow), "tree/Al/")
        assert "1 task submitted" in out, out
        mq.wait()
    with use_store(open_store(tree)):
        made = [r for r in all_records() if r.name == "test.wf.versioned"]
    assert sorted(r.version for r in made) == [0, 1]
