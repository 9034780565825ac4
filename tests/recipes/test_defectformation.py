import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.defectformation import composition_change
from asr.recipes.defectformation import main as defectformation

EMT = {"name": "emt"}
TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)


def cu3au(a=3.75):
    return Atoms(
        "AuCu3",
        scaled_positions=[[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
        cell=np.eye(3) * a,
        pbc=True,
    )


def test_composition_change_counts_added_atoms():
    pristine = cu3au()
    antisite = pristine.copy()
    antisite[1].symbol = "Au"
    change = composition_change(pristine, antisite)
    assert change["Au"] == 1 and change["Cu"] == -1
    del antisite[0]
    assert composition_change(pristine, antisite)["Au"] == 0


def test_cu3au_vacancies_and_antisites_with_emt(store, tmp_path):
    result = defectformation(cu3au(), EMT, supercell=(2, 2, 2)).result
    assert result.names == ["v_Au", "Cu_Au", "v_Cu", "Au_Cu"]
    energies = dict(zip(result.names, result.formation_energies))
    # Vacancies cost about an eV; antisites of an ordered alloy much less.
    assert 0.5 < energies["v_Au"] < 2.0 and 0.5 < energies["v_Cu"] < 2.0
    assert abs(energies["Au_Cu"]) < 0.5 and 0 < energies["Cu_Au"] < 0.5
    assert result.most_stable_defect == "Au_Cu"
    assert set(result.chemical_potentials) == {"Au", "Cu"}
    # μ of the relaxed elemental solids: the energy zero of EMT.
    assert np.abs(list(result.chemical_potentials.values())).max() < 0.02
    assert result.supercell == (2, 2, 2)
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_given_chemical_potentials_are_used(store):
    shifted = defectformation(
        cu3au(),
        EMT,
        supercell=(2, 2, 2),
        relax=False,
        antisites=False,
        chemical_potentials={"Au": 1.0, "Cu": 0.0},
    ).result
    plain = defectformation(
        cu3au(),
        EMT,
        supercell=(2, 2, 2),
        relax=False,
        antisites=False,
        chemical_potentials={"Au": 0.0, "Cu": 0.0},
    ).result
    assert shifted.names == ["v_Au", "v_Cu"]
    difference = shifted.formation_energies - plain.formation_energies
    assert difference == pytest.approx([1.0, 0.0])  # removing Au gains μ_Au


def test_elements_without_a_solid_need_a_chemical_potential(store):
    molecule = Atoms("NO", positions=[[0, 0, 0], [1.2, 0, 0]], cell=[4, 4, 4])
    with pytest.raises(ValueError, match="chemical potential"):
        defectformation(molecule, EMT, supercell=(1, 1, 1), relax=False)


@pytest.mark.gpaw
def test_silicon_vacancy_from_groundstate_energies(store):
    si = bulk("Si")
    result = defectformation(
        si,
        TINY,
        supercell=(1, 1, 1),
        antisites=False,
        relax=False,
        chemical_potentials={"Si": 0.0},
    ).result
    assert result.names == ["v_Si"]
    # With μ = 0 the formation energy is the energy of the missing bonds
    # plus -E(Si2)+E(Si1): positive, a few eV.
    assert result.formation_energies[0] == pytest.approx(
        result.defect_energies[0] - result.pristine_energy
    )
    assert result.formation_energies[0] > 0
