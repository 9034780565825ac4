"""A tree of 20 materials with injected failures ends all done, by itself.

The failures are of three classes: SCF not converged (healed in the task,
with changed arguments), a wall time exceeded and out of memory (healed by
resubmissions with more time or cores).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ase.build import bulk
from wfhelpers import write_flow

from asr.store import open_store
from asr.store.fsck import fsck
from asr.workflow import drive
from asr.workflow.healing import MEMORY, TIMEOUT

pytestmark = pytest.mark.slow
pytest.importorskip("gpaw")

FLOW = """
    from pathlib import Path
    from ase.io import read
    from asr.workflow import run

    def workflow():
        atoms = read("structure.json")
        # Every third material gets an SCF that cannot converge in 3 steps.
        maxiter = 3 if Path("INJECT").exists() else 333
        calc = {"name": "gpaw", "maxiter": maxiter, "mixer": {"beta": 0.05},
                "occupations": {"name": "fermi-dirac", "width": 0.05}}
        run("wfsteps:flaky_scf", atoms, calculator=calc, resources="1:5m")
        if Path("SLOW").exists():  # a relaxation longer than its wall time
            run("wfsteps:slow_relax", atoms, 0.3, resources="1:3s",
                handlers={"timeout": ["time"] * 4})
        if Path("HUNGRY").exists():  # more memory than one core has
            megabytes = 200 + int(Path.cwd().name[1:])  # a call of its own per folder
            run("wfsteps:hungry", megabytes, resources="1:1:1m")
"""

INJECTED = {"SLOW": (1, 10), "HUNGRY": (2, 11)}


def test_twenty_materials_with_injected_failures_end_all_done(mq):
    folders = []
    for n in range(20):
        folder = mq.home / "tree" / f"m{n:02d}"
        folder.mkdir(exist_ok=True)
        atoms = bulk("Cu", "fcc", a=3.5 + 0.01 * n, cubic=True)
        atoms.rattle(0.05, seed=n)
        atoms.write(folder / "structure.json")
        if n % 3 == 0:
            (folder / "INJECT").write_text("")
        for marker, numbers in INJECTED.items():
            if n in numbers:
                (folder / marker).write_text("")
        folders.append(folder)
    flow = write_flow(mq.home, FLOW)

    drive.drive(flow, folders, poll=0.2, timeout=300)
    assert set(mq.states().values()) == {"done"}
    rows = drive.status(flow, folders)
    assert [r.state for r in rows] == ["done"] * 24
    healed = [r for r in rows if "healed after" in r.detail]
    scf = [r for r in healed if r.name.startswith("test.wf.flaky_scf")]
    assert len(scf) == 7  # m00, m03, ..., m18
    # mixing, smearing, iterations: three failures each, kept in the store
    assert all(len(r.failures) == 3 for r in scf)
    # a time-out (resubmitted with twice the time), out of memory (more cores)
    timeouts = [r for r in healed if r.name.startswith("test.wf.slow_relax")]
    memory = [r for r in healed if r.name.startswith("test.wf.hungry")]
    assert len(timeouts) == len(memory) == 2
    assert {f.payload["class"] for r in timeouts for f in r.failures} == {TIMEOUT}
    assert [[f.payload["class"] for f in r.failures] for r in memory] == [[MEMORY]] * 2
    assert all(not r.failures for r in rows if r not in healed)
    assert not fsck(open_store(mq.home)).errors

    # A rerun finds every call done (through the redirects): nothing submitted.
    assert drive.submit(flow, folders) == 0
    out = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "workflow", "status", str(flow)]
        + [str(f) for f in folders],
        cwd=mq.home,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert out.returncode == 0, out.stderr
    assert "24 instructions: 24 done (11 healed)" in out.stdout
    assert "failed attempts kept in the store" in out.stdout
