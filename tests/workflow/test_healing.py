"""Failures healed by their handlers: real GPAW failures, real task processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ase.build import bulk
from myqueue import workflow as mq
from myqueue.utils import chdir

from asr.core import get_recipe, use_store
from asr.store import init_store, open_store
from asr.workflow import WorkflowError, run
from asr.workflow.healing import (
    BANDS,
    FAILURE,
    MEMORY,
    SCF,
    STRUCTURE,
    TIMEOUT,
    UNKNOWN,
    classify,
    failures,
    policy_for,
)

pytest.importorskip("gpaw")

# Si on a coarse grid: a converged ground state takes a second or two.
TINY = {
    "name": "gpaw",
    "mode": {"name": "pw", "ecut": 200},
    "xc": "PBE",
    "kpts": {"size": [2, 2, 2], "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.1},
    "txt": None,
}


def si():
    return bulk("Si", "diamond", a=5.47)


@pytest.fixture
def folder(tmp_path):
    init_store(tmp_path)
    (tmp_path / "Si").mkdir()
    return tmp_path / "Si"


def test_classify_real_gpaw_errors():
    from gpaw import KohnShamConvergenceError
    from gpaw.new.scf import TooFewBandsError

    assert classify(KohnShamConvergenceError()) == SCF
    assert classify(TooFewBandsError()) == BANDS
    assert classify(ValueError("Too few bands!  Electrons: 8.0, bands: 2")) == BANDS
    assert classify(MemoryError()) == MEMORY
    assert classify("killed by signal 9") == MEMORY
    assert classify("", state="TIMEOUT") == TIMEOUT
    assert classify(ValueError("2D structures must be periodic")) == STRUCTURE
    assert classify(RuntimeError("no idea")) == UNKNOWN


def test_policy_overrides_and_unknown_steps():
    assert policy_for("asr.gs")[SCF] == ["mixing", "smearing", "iterations"]
    assert policy_for("asr.gs", {SCF: ["iterations"]})[SCF] == ["iterations"]
    with pytest.raises(WorkflowError, match="unknown handler steps"):
        policy_for("asr.gs", {SCF: ["prayer"]})
    with pytest.raises(WorkflowError, match="no failure class"):
        policy_for("asr.gs", {"weather": []})


def collect(folder: Path, function) -> list:
    with chdir(folder):
        return mq.collect(function, folder / "flow.py")


def test_scf_capped_at_3_iterations_is_healed_in_a_task(folder):
    calc = {**TINY, "maxiter": 3}

    def flow():
        run("asr.gs", atoms=si(), calculator=calc)

    (task,) = collect(folder, flow)
    name = task.cmd.name
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "asr.workflow.task",
            "asr.gs",
            f".asr-tasks/{name}.args",
        ],  # noqa: E501
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    store = open_store(folder)
    gs = get_recipe("asr.gs")
    original = gs.arguments(atoms=si(), calculator=calc)
    # Honest caching: the original call has no Record of its own ...
    assert gs.lookup(original, store) is None
    # ... but the workflow follows the recorded redirect: no task any more.
    assert collect(folder, flow) == []
    with chdir(folder), use_store(store):
        handle = run("asr.gs", atoms=si(), calculator=calc)
    record = handle.record
    attempts = record.metadata["attempts"]
    assert [a["step"] for a in attempts] == ["mixing", "smearing", "iterations"]
    assert all(a["class"] == SCF for a in attempts)
    assert attempts[0]["argument"] == "calculator.mixer"
    assert attempts[2]["new"] == 333
    assert record.arguments["calculator"]["maxiter"] == 333
    assert record.arguments["calculator"]["occupations"]["width"] == 0.05
    assert record.arguments["calculator"]["mixer"] == {"beta": 0.025}
    kept = failures(store, gs.terms(original))
    assert [f.payload["type"] for f in kept] == [FAILURE] * 3
    assert [f.uid for f in kept] == [a["failure"] for a in attempts]
    assert "KohnShamConvergenceError" in kept[0].payload["error"]
    assert kept[0].payload["arguments"]["calculator"]["maxiter"] == 3

    # asr show and asr log say how the Record was made.
    cli = [sys.executable, "-m", "asr.cli.main"]
    wide = {**os.environ, "COLUMNS": "300"}
    shown = subprocess.run(
        [*cli, "show", str(record.uid)],
        cwd=folder,
        capture_output=True,
        text=True,
        env=wide,
    )
    assert "made after 4 attempts" in shown.stdout
    assert "scf handler set calculator.maxiter 3 -> 333" in shown.stdout
    logged = subprocess.run(
        [*cli, "log", str(record.uid)],
        cwd=folder,
        capture_output=True,
        text=True,
        env=wide,
    )
    assert "made after 4 attempts" in logged.stdout


def test_too_few_bands_is_healed_with_more_bands(folder):
    calc = {**TINY, "nbands": 3}  # Si has 8 valence electrons: 4 bands at least
    with chdir(folder), use_store(open_store(folder)):
        record = run("asr.gs", atoms=si(), calculator=calc).record
    (attempt,) = record.metadata["attempts"]
    assert attempt["class"] == BANDS
    assert (attempt["argument"], attempt["old"], attempt["new"]) == (
        "calculator.nbands",
        3,
        6,
    )
    assert record.arguments["calculator"]["nbands"] == 6


def test_gives_up_with_a_clear_status_when_no_step_is_left(folder):
    calc = {**TINY, "maxiter": 3}
    with chdir(folder), use_store(open_store(folder)):
        with pytest.raises(Exception, match="gave up after 2 attempts: SCF not"):
            run("asr.gs", atoms=si(), calculator=calc, handlers={SCF: ["mixing"]})
    gs = get_recipe("asr.gs")
    terms = gs.terms(gs.arguments(atoms=si(), calculator=calc))
    assert len(failures(open_store(folder), terms)) == 2
