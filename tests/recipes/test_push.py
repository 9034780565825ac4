import numpy as np
from ase.build import bulk

from asr.recipes.phonopy import main as phonopy
from asr.recipes.push import main as push
from asr.recipes.push import repetition_for, softest_mode
from asr.recipes.relax import main as relax

EMT = {"name": "emt"}


def test_push_unstable_cell_and_relax_lower(store):
    cubic = relax(bulk("Cu", "sc", a=2.4), calculator=EMT).result
    record = push(cubic.atoms, calculator=EMT, supercell=(2, 2, 2))
    result = record.result
    # asr.phonopy was called as an instruction: it is a recorded dependency.
    phonons = phonopy(cubic.atoms, calculator=EMT, supercell=(2, 2, 2))
    assert [d.uid for d in record.dependencies] == [phonons.uid]
    assert result.unstable and result.mode_energy < -5
    assert result.mode_energy == phonons.result.min_energy
    n = int(np.prod(result.repetition))
    assert len(result.atoms) == n * len(cubic.atoms)
    moved = np.linalg.norm(result.displacements, axis=1)
    assert abs(moved.max() - 0.1) < 1e-12
    relaxed = relax(result.atoms, calculator=EMT, allow_symmetry_breaking=True).result
    assert relaxed.energy / len(result.atoms) < cubic.energy - 0.1


def test_push_stable_cell(store):
    atoms = relax(bulk("Al"), calculator=EMT).result.atoms
    result = push(atoms, calculator=EMT, amplitude=0.05, supercell=(2, 2, 2)).result
    assert not result.unstable and result.mode_energy > 0
    assert not np.allclose(result.qpoint, 0) or result.band >= 3
    moved = np.linalg.norm(result.displacements, axis=1)
    assert abs(moved.max() - 0.05) < 1e-12


def test_softest_mode_skips_acoustic_gamma():
    qpoints = np.array([[0, 0, 0], [0.5, 0, 0]])
    energies = np.array([[-0.1, 0.0, 0.1, 20.0], [5.0, 6.0, 7.0, 8.0]])
    assert softest_mode(qpoints, energies) == (1, 0)
    assert repetition_for(np.array([0.5, 1 / 3, 0.0]), [True, True, True]) == [2, 3, 1]
    assert repetition_for(np.array([0.5, 0.5, 0.5]), [True, True, False]) == [2, 2, 1]
