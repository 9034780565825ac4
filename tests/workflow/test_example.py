"""examples/workflow.py: what it submits first, in both profiles."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from ase.build import bulk
from myqueue import workflow as mq
from myqueue.utils import chdir

from asr.recipes import get_recipe

EXAMPLE = Path(__file__).parents[2] / "examples" / "workflow.py"


def first_round(folder: Path, profile: str, monkeypatch) -> dict[str, mq.Task]:
    monkeypatch.setenv("ASR_WORKFLOW_PROFILE", profile)
    workflow = runpy.run_path(str(EXAMPLE))["workflow"]
    with chdir(folder):
        tasks = mq.collect(workflow, EXAMPLE)
    return {task.cmd.name.rsplit("-", 1)[0]: task for task in tasks}


@pytest.mark.parametrize("profile", ["tiny", "production"])
def test_first_round(tree, monkeypatch, profile):
    folder = tree / "tree" / "Si"
    folder.mkdir()
    bulk("Si").write(folder / "structure.json")
    tasks = first_round(folder, profile, monkeypatch)
    # Everything up to the magnetism branch, which needs the magnetic state.
    first = {
        "asr.bandstructure",
        "asr.dimensionality",
        "asr.dos",
        "asr.gs",
        "asr.magstate",
        "asr.pdos",
        "asr.phonopy",
        "asr.relax",
        "asr.stiffness",
        "asr.structureinfo",
    }
    if profile == "production":
        first |= {"asr.bader", "asr.proj_bandstructure"}
    else:  # the tiny profile leaves the mechanics of bulk materials out
        first -= {"asr.stiffness", "asr.phonopy"}
    assert set(tasks) == first
    relax = tasks["asr.relax"].dname
    assert not tasks["asr.relax"].deps
    assert all(relax in t.deps for name, t in tasks.items() if name != "asr.relax")
    assert set(tasks["asr.bandstructure"].deps) == {relax, tasks["asr.gs"].dname}
    cores = tasks["asr.gs"].resources.cores
    assert cores == (1 if profile == "tiny" else 24)


def test_every_recipe_it_names_exists():
    source = EXAMPLE.read_text()
    names = set(re.findall(r'"(asr\.[a-z_.]+)"', source))
    for loop in re.findall(r"for name in \(([^)]*)\)", source):
        names |= {f"asr.{n}" for n in re.findall(r'"([a-z_]+)"', loop)}
    assert len(names) >= 20
    for name in sorted(names):
        get_recipe(name)


def test_injected_failure_is_one_more_ground_state(tree, monkeypatch):
    """ASR_WORKFLOW_INJECT=Si (make demo) asks for a second, capped asr.gs."""
    from asr.store import decode
    from asr.workflow.taskfiles import read_header

    folder = tree / "tree" / "Si"
    folder.mkdir()
    bulk("Si").write(folder / "structure.json")
    monkeypatch.setenv("ASR_WORKFLOW_INJECT", "Si")
    monkeypatch.setenv("ASR_WORKFLOW_PROFILE", "tiny")
    workflow = runpy.run_path(str(EXAMPLE))["workflow"]
    with chdir(folder):
        tasks = mq.collect(workflow, EXAMPLE)
    gs = [t for t in tasks if t.cmd.name.startswith("asr.gs-")]
    assert len(gs) == 2
    files = [folder / ".asr-tasks" / f"{t.cmd.name}.args" for t in gs]
    calcs = [decode(read_header(f)["arguments"])["calculator"] for f in files]
    assert sorted(c.get("maxiter", 0) for c in calcs) == [0, 3]
