"""`asr.workflow.run` while MyQueue collects tasks (in-process, no scheduler)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfsteps
from ase.io import read
from myqueue import workflow as mq
from myqueue.utils import chdir

from asr.core import use_store
from asr.store import open_store
from asr.workflow import Handle, NeedsResult, WorkflowError, run
from asr.workflow.taskfiles import read_header


def collect(folder: Path, function) -> dict[str, mq.Task]:
    """What `mq workflow` would submit in `folder`: task name -> Task."""
    with chdir(folder):
        tasks = mq.collect(function, folder / "flow.py")
    return {task.cmd.name: task for task in tasks}


def compute(folder: Path, function) -> None:
    """Run the workflow outside MyQueue: every call computes in-process."""
    with chdir(folder), use_store(open_store(folder)):
        function()


def names(tasks) -> list[str]:
    return sorted(name.rsplit("-", 1)[0] for name in tasks)


FACTOR = {"value": 1.02}


def flow():
    atoms = read("structure.json")
    run(wfsteps.energy, atoms)
    strained = run(wfsteps.strain, atoms, factor=FACTOR["value"])
    run(wfsteps.energy, atoms=strained.result)
    run("asr.structureinfo", atoms=atoms)


def test_a_call_with_a_record_is_no_task(tree):
    folder = tree / "tree" / "Cu"
    tasks = collect(folder, flow)
    assert names(tasks) == [
        "asr.structureinfo",
        "test.wf.energy",
        "test.wf.energy",
        "test.wf.strain",
    ]
    compute(folder, flow)
    assert collect(folder, flow) == {}


def test_a_task_depends_on_the_tasks_whose_results_it_uses(tree):
    folder = tree / "tree" / "Cu"
    tasks = collect(folder, flow)
    [strain] = [t for t in tasks.values() if t.cmd.name.startswith("test.wf.strain")]
    dependent = [t for t in tasks.values() if t.deps]
    assert len(dependent) == 1
    assert dependent[0].deps == [strain.dname]
    # The task runs the instruction in the material's folder from a task file.
    command = str(dependent[0].cmd)
    assert command.startswith("python3 -m asr.workflow.task wfsteps:energy .asr-tasks/")
    assert dependent[0].folder == folder


def test_changed_argument_resubmits_only_what_it_invalidates(tree, monkeypatch):
    folder = tree / "tree" / "Cu"
    compute(folder, flow)
    monkeypatch.setitem(FACTOR, "value", 1.05)
    assert names(collect(folder, flow)) == ["test.wf.energy", "test.wf.strain"]


def test_new_version_resubmits_the_calls_of_that_instruction(tree, monkeypatch):
    folder = tree / "tree" / "Cu"
    compute(folder, flow)
    monkeypatch.setattr(wfsteps.energy, "version", 1)
    assert names(collect(folder, flow)) == ["test.wf.energy", "test.wf.energy"]


def test_control_flow_waits_for_a_result(tree):
    seen = []

    def branching():
        atoms = read("structure.json")
        energy = run(wfsteps.energy, atoms)
        seen.append(energy.done)
        if energy.result < 100:  # stops collecting until the energy is known
            run(wfsteps.strain, atoms, factor=2.0)

    folder = tree / "tree" / "Al"
    assert names(collect(folder, branching)) == ["test.wf.energy"]
    compute(folder, branching)
    assert collect(folder, branching) == {}
    assert seen == [False, True, True]


def test_placeholders_follow_attributes_and_stop_at_values(tree):
    handles = []

    def placeholders():
        atoms = read("structure.json")
        handles.append(run(wfsteps.strain, atoms, factor=1.1))

    collect(tree / "tree" / "Al", placeholders)
    [handle] = handles
    assert not handle.done
    cell = handle.result.cell[0]
    assert repr(cell).endswith(".result.cell[0]: not done yet>")
    for use in (bool, str, float, len, lambda x: x + 1, lambda x: x > 0, lambda x: x()):
        with pytest.raises(NeedsResult):
            use(cell)


def test_a_call_whose_inputs_are_known_keeps_the_name_of_its_queued_task(tree):
    # Submitted while the strain was running, the energy task is named
    # after its Ref; once the strain is done the same call must find that
    # task instead of making a second one.
    folder = tree / "tree" / "Cu"
    before = collect(folder, flow)
    [energy] = [n for n, t in before.items() if t.deps]
    with chdir(folder), use_store(open_store(folder)):
        wfsteps.strain(read("structure.json"), factor=FACTOR["value"])
    after = collect(folder, flow)
    assert energy in after
    assert not after[energy].deps
    assert len(after) == len(before) - 1


def test_outside_myqueue_the_workflow_runs_in_process(tree):
    handles = []

    def plain():
        atoms = read("structure.json")
        handles.append(run(wfsteps.strain, atoms, factor=1.1))
        handles.append(run(wfsteps.energy, handles[0].result))

    compute(tree / "tree" / "Cu", plain)
    strained, energy = handles
    assert strained.done and energy.done
    assert isinstance(energy.result, float)
    assert np.allclose(
        strained.result.cell, read(tree / "tree/Cu/structure.json").cell * 1.1
    )


def test_resources(tree):
    def resourceful():
        atoms = read("structure.json")
        run(wfsteps.energy, atoms, resources="4:2h")
        run(wfsteps.energy, atoms, scale=1.01, resources={"cores": 2, "tmax": "5m"})
        with mq.resources(cores=8):
            run(wfsteps.energy, atoms, scale=1.02)

    tasks = sorted(
        collect(tree / "tree" / "Cu", resourceful).values(), key=lambda t: t.id
    )
    found = sorted((t.resources.cores, t.resources.tmax) for t in tasks)
    assert found == [(2, 300), (4, 7200), (8, 600)]


def test_mistakes_are_explained(tree):
    def handle_as_argument():
        atoms = read("structure.json")
        strained = run(wfsteps.strain, atoms, factor=1.1)
        run(wfsteps.energy, strained)

    with pytest.raises(WorkflowError, match="pass its .result"):
        collect(tree / "tree" / "Cu", handle_as_argument)

    def unknown_resources():
        run(wfsteps.nap, 0.0, resources={"memory": "2G"})

    with pytest.raises(WorkflowError, match="unknown resources"):
        collect(tree / "tree" / "Cu", unknown_resources)


def test_task_file_names_the_call(tree):
    handles: list[Handle] = []

    def one():
        handles.append(run(wfsteps.nap, 0.5, tag="x"))

    collect(tree / "tree" / "Cu", one)
    header = read_header(handles[0].file)
    assert header["loader"] == "wfsteps:nap"
    assert header["name"] == "test.wf.nap"
    assert handles[0].name == f"test.wf.nap-{header['key'][:8]}"
    assert not header["pending"]


def test_the_workflow_and_its_tasks_agree_on_keys(tree, monkeypatch):
    # A task reads its arguments from a file: dicts come back with sorted
    # keys, numpy scalars as floats. The workflow must look up the same key.
    from asr.workflow import task

    def dicts():
        atoms = read("structure.json")
        calculator = {"width": 0.1, "density": np.float64(1.5), "name": "x"}
        setting = run(wfsteps.settings, atoms, calculator)
        run(wfsteps.fit, [np.float64(2.0), 1.0], [setting.result, -1.0])

    folder = tree / "tree" / "Cu"
    submitted = sorted(collect(folder, dicts).values(), key=lambda t: len(t.deps))
    assert len(submitted) == 2
    monkeypatch.chdir(folder)
    for one in submitted:  # the second resolves its Ref to the first
        assert task.main(one.cmd.args) == 0
    assert collect(folder, dicts) == {}
    compute(folder, dicts)  # in-process calls agree too
    assert collect(folder, dicts) == {}


def test_in_process_and_task_records_agree(tree):
    def fits():
        energy = run(wfsteps.energy, read("structure.json"))
        run(wfsteps.fit, [np.float64(2.0), 1.0], [energy.result, -1.0])

    folder = tree / "tree" / "Al"
    compute(folder, fits)
    assert collect(folder, fits) == {}
