"""Task files carry arguments losslessly; the task entry point runs them."""

from __future__ import annotations

import numpy as np
import pytest
import wfsteps
from ase.build import molecule
from ase.constraints import FixAtoms

from asr.core import use_store
from asr.workflow import MissingResultError, Ref, WorkflowError, task
from asr.workflow.taskfiles import (
    Resolver,
    failure_file,
    read_header,
    task_file,
    write_task_file,
)


def odd_atoms():
    atoms = molecule("H2O", vacuum=3.0)
    atoms.pbc = [True, False, True]
    atoms.positions += 1e-13  # the last bits must survive
    atoms.set_initial_magnetic_moments([0.5, -0.25, 1 / 3])
    atoms.set_constraint(FixAtoms(indices=[1]))
    atoms.info["label"] = "water"
    return atoms


def write(folder, instr, arguments):
    terms = instr.terms(arguments)
    path = task_file(folder, f"call-{terms.exact.hex()[:8]}")
    write_task_file(path, instr, arguments, terms)
    return path


def test_arguments_arrive_bit_for_bit(store, tmp_path):
    atoms = odd_atoms()
    arguments = wfsteps.energy.arguments(atoms, scale=1 + 1e-15)
    path = write(tmp_path, wfsteps.energy, arguments)
    instr, found, header = Resolver().call(path)
    assert instr is wfsteps.energy
    assert header["version"] == wfsteps.energy.version
    back = found["atoms"]
    assert back is not atoms
    for name in ("positions", "cell", "numbers", "pbc"):
        assert np.array_equal(getattr(back, name), getattr(atoms, name))
    assert back.positions.tobytes() == atoms.positions.tobytes()
    assert np.array_equal(back.get_initial_magnetic_moments(), [0.5, -0.25, 1 / 3])
    assert [c.todict() for c in back.constraints] == [
        c.todict() for c in atoms.constraints
    ]
    assert back.info == {"label": "water"}
    assert found["scale"] == 1 + 1e-15
    assert instr.terms(found).exact == instr.terms(arguments).exact


def test_a_ref_is_resolved_from_the_store(store, tmp_path):
    atoms = odd_atoms()
    strain_path = write(tmp_path, wfsteps.strain, wfsteps.strain.arguments(atoms, 1.1))
    ref = Ref(strain_path.name, (("attr", "result"),))
    energy_path = write(tmp_path, wfsteps.energy, {"atoms": ref, "scale": 1.0})
    assert read_header(energy_path)["pending"]

    with pytest.raises(MissingResultError, match="has no Record"):
        Resolver().call(energy_path)

    strained = wfsteps.strain(atoms, 1.1).result
    _, arguments, _ = Resolver().call(energy_path)
    assert np.array_equal(arguments["atoms"].cell, strained.cell)


def test_an_existing_task_file_must_hold_the_same_call(store, tmp_path):
    path = write(tmp_path, wfsteps.nap, wfsteps.nap.arguments(0.1))
    other = wfsteps.nap.arguments(0.2)
    with pytest.raises(WorkflowError, match="another call"):
        write_task_file(path, wfsteps.nap, other, wfsteps.nap.terms(other))


def test_task_entry_point(store, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    atoms = odd_atoms()
    path = write(tmp_path, wfsteps.fragile, wfsteps.fragile.arguments(atoms))
    relative = str(path.relative_to(tmp_path))
    (tmp_path / "BROKEN").write_text("")

    assert task.main(["wfsteps:fragile", relative]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first == (
        "Error: wfsteps:fragile failed, no Record stored: "
        "RuntimeError: the folder holds a file BROKEN"
    )
    assert "Traceback" in err
    assert failure_file(path).read_text().startswith(first)
    with use_store(store):
        assert wfsteps.fragile.lookup(wfsteps.fragile.arguments(atoms)) is None

    (tmp_path / "BROKEN").unlink()
    assert task.main(["wfsteps:fragile", relative]) == 0
    assert "computed and stored" in capsys.readouterr().out
    assert not failure_file(path).exists()
    assert task.main(["wfsteps:fragile", relative]) == 0
    assert "was in the store" in capsys.readouterr().out

    assert task.main(["asr.gs", relative]) == 1  # the file is not of asr.gs
    assert task.main([]) == 2
