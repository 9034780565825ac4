import numpy as np
import pytest
from ase.build import bulk, fcc111

from asr.recipes.phonopy import main as phonopy
from asr.recipes.phonopy import supercell_size, tick_labels
from asr.recipes.relax import main as relax

EMT = {"name": "emt"}


def test_aluminium_is_dynamically_stable(store, tmp_path):
    atoms = relax(bulk("Al"), calculator=EMT).result.atoms
    record = phonopy(atoms, calculator=EMT)
    result = record.result
    assert result.supercell == [4, 4, 4]  # periodic lengths >= 10 Å
    assert result.dynamic_stability_phonons == "stable"
    assert result.min_energy > -1.0
    assert result.band_energies.shape == (200, 3)
    assert 30 < result.band_energies.max() < 45  # meV
    assert np.allclose(result.commensurate_energies[0], 0, atol=1e-3)  # Γ acoustic
    assert np.trapezoid(result.dos, result.dos_energies) == pytest.approx(3, rel=0.02)
    assert result.special_labels[0] == "G"
    # The perfect and the one symmetry-distinct displaced supercell.
    assert len(record.dependencies) == 2
    assert result.database_keys()["dynamic_stability_phonons"] == "stable"
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_unstable_structure(store):
    atoms = relax(bulk("Cu", "sc", a=2.4), calculator=EMT).result.atoms
    result = phonopy(atoms, calculator=EMT, supercell=(2, 2, 2)).result
    assert result.dynamic_stability_phonons == "unstable"
    assert result.min_energy < -5


def test_one_atom_in_its_own_cell_has_a_dos(store):
    """Every mode is zero (only acoustic ones at Γ): the DOS is a peak at 0."""
    result = phonopy(bulk("Al"), calculator=EMT, supercell=(1, 1, 1)).result
    assert np.allclose(result.band_energies, 0, atol=1e-6)
    assert result.dos_energies[np.argmax(result.dos)] == pytest.approx(0, abs=0.1)
    assert np.trapezoid(result.dos, result.dos_energies) == pytest.approx(3, rel=0.05)
    assert result.dynamic_stability_phonons == "stable"


def test_2d_supercell_is_in_plane(store):
    atoms = fcc111("Cu", size=(1, 1, 1), vacuum=6.0)
    atoms = relax(atoms, calculator=EMT).result.atoms
    result = phonopy(atoms, calculator=EMT, supercell=(4, 4, 4)).result
    assert result.supercell == [4, 4, 1]
    assert result.special_labels == ["G", "M", "K", "G"]
    assert np.allclose(result.path_qpoints[:, 2], 0)
    assert result.force_constants.shape == (1, 16, 3, 3)


def test_supercell_size():
    layer = fcc111("Cu", size=(1, 1, 1), vacuum=6.0)
    assert supercell_size(layer, None, 10.0) == [4, 4, 1]
    assert supercell_size(bulk("Si"), None, 7.0) == [2, 2, 2]
    with pytest.raises(ValueError):
        supercell_size(bulk("Si"), (2, 0, 2), 10.0)


def test_tick_labels_join_jumps():
    ticks, labels = tick_labels([0, 1, 2, 2, 3], ["G", "X", "K", "U", "X"])
    assert ticks == [0, 1, 2, 3]
    assert labels == [r"$\Gamma$", "X", "K|U", "X"]


def polar_layer():
    """A sheet of HF molecules standing up: a layer with a dipole along z."""
    from ase import Atoms

    return Atoms(
        "HF",
        positions=[[0.0, 0.0, 3.0], [0.0, 0.0, 3.95]],
        cell=[3.0, 3.0, 6.95],
        pbc=[True, True, False],
    )


@pytest.mark.gpaw
def test_polar_layer_forces_have_the_dipole_correction_of_gs(store):
    from gpaw_settings import lcao

    from asr.recipes.gs import main as groundstate
    from asr.recipes.phonopy import forces

    spec = lcao([1, 1, 1], basis="sz(dzp)", h=0.3)
    layer = polar_layer()
    gs = groundstate(layer, spec, magnetic=False).result
    # Without the dipole correction the force along z differs by ~0.2 eV/Å.
    assert forces(layer, spec).result == pytest.approx(gs.forces, abs=1e-4)
