"""A tree of 20 materials with injected failures ends all done, by itself."""

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
"""


def test_twenty_materials_with_injected_failures_end_all_done(mq):
    folders = []
    for n in range(20):
        folder = mq.home / "tree" / f"m{n:02d}"
        folder.mkdir(exist_ok=True)
        bulk("Cu", "fcc", a=3.5 + 0.01 * n).write(folder / "structure.json")
        if n % 3 == 0:
            (folder / "INJECT").write_text("")
        folders.append(folder)
    flow = write_flow(mq.home, FLOW)

    drive.drive(flow, folders, poll=0.2, timeout=300)
    assert set(mq.states().values()) == {"done"}
    rows = drive.status(flow, folders)
    assert [r.state for r in rows] == ["done"] * 20
    healed = [r for r in rows if "healed after" in r.detail]
    assert len(healed) == 7  # m00, m03, ..., m18
    # mixing, smearing, iterations: three failures each, kept in the store
    assert all(len(r.failures) == 3 for r in healed)
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
    assert "20 instructions: 20 done (7 healed)" in out.stdout
    assert "failed attempts kept in the store" in out.stdout
