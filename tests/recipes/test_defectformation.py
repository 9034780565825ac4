import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.defectformation import (
    composition_change,
    neutral_defects,
    uncorrected,
)
from asr.recipes.defectformation import main as defectformation
from asr.recipes.gs import main as groundstate

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
    assert result.charge_states == (0,) and result.fermi_level is None
    assert result.charged_formation_energies[:, 0] == pytest.approx(
        result.formation_energies
    )


def test_version_1_records_migrate_to_the_neutral_state(store):
    from dataclasses import replace

    record = defectformation(
        cu3au(), EMT, supercell=(1, 1, 1), relax=False, antisites=False
    )
    arguments = dict(record.arguments)
    del arguments["charge_states"], arguments["temperature"]
    result = replace(
        record.result, charged_energies=None, charged_formation_energies=None
    )
    migrated = neutral_defects(replace(record, version=1, arguments=arguments))
    migrated = neutral_defects(
        replace(record, version=1, arguments=arguments, result=result)
    )
    assert migrated.version == 2 and migrated.arguments == record.arguments
    assert migrated.result.charged_formation_energies == pytest.approx(
        record.result.charged_formation_energies
    )


def test_version_2_records_migrate_as_uncorrected(store):
    from dataclasses import replace

    record = defectformation(
        cu3au(), EMT, supercell=(1, 1, 1), relax=False, antisites=False
    )
    arguments = dict(record.arguments)
    del arguments["epsilon"], arguments["thickness"]
    migrated = uncorrected(replace(record, version=2, arguments=arguments))
    # Exactly what version 3 records without epsilon: no correction.
    assert migrated.version == 3 and migrated.arguments == record.arguments
    assert migrated.result.correction_model == "none"
    assert migrated.result.corrections is None


def test_epsilon_must_fit_the_host(store):
    with pytest.raises(ValueError, match="3D host"):
        defectformation(cu3au(), EMT, supercell=(1, 1, 1), epsilon=(5.0, 2.0))
    with pytest.raises(ValueError, match="≥ 1"):
        defectformation(cu3au(), EMT, supercell=(1, 1, 1), epsilon=0.5)


def test_charged_defects_need_gpaw(store):
    with pytest.raises(ValueError, match="GPAW"):
        defectformation(cu3au(), EMT, supercell=(1, 1, 1), charge_states=(0, 1))


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
def test_silicon_vacancy_neutral_and_positive(store, tmp_path):
    si = bulk("Si")
    vacancy_call = {
        "supercell": (1, 1, 1),
        "antisites": False,
        "relax": False,
        "chemical_potentials": {"Si": 0.0},
        "charge_states": (0, 1),
    }
    result = defectformation(si, TINY, **vacancy_call).result
    assert result.names == ["v_Si"]
    # With μ = 0 the formation energy is the energy of the missing bonds
    # plus -E(Si2)+E(Si1): positive, a few eV.
    assert result.formation_energies[0] == pytest.approx(
        result.defect_energies[0] - result.pristine_energy
    )
    assert result.formation_energies[0] > 0
    # The +1 state is GPAW's ground state with charge=1 (a cache hit), not
    # the neutral one.
    e0, e1 = result.charged_energies[0]
    vacancy = si.copy()
    del vacancy[0]
    positive = groundstate(vacancy, {**TINY, "charge": 1}).result
    assert e1 == positive.energy
    assert (
        abs(e1 - e0) > 1e-3
        and positive.efermi < groundstate(vacancy, TINY).result.efermi
    )
    # Brought to the VBM (E_F = 0):
    assert result.charged_formation_energies[0, 1] == pytest.approx(
        e1 - result.pristine_energy + result.vbm
    )
    assert result.gap > 0
    for name, q, q2, level in result.transition_levels:
        assert (name, q, q2) == ("v_Si", 1, 0)
        assert level == pytest.approx(
            np.subtract(*result.charged_formation_energies[0])
        )
    # The self-consistent Fermi level: no net charge (per unit cell).
    (c0, c1) = result.concentrations[0]
    assert c1 + result.holes == pytest.approx(result.electrons, rel=1e-4)
    assert -0.5 < result.fermi_level < result.gap + 0.5
    figures = result.figures(tmp_path)
    assert [f.name for f in figures] == [
        "defectformation.png",
        "defectformation-charged.png",
    ]
    assert result.correction_model == "none" and result.corrections is None

    # With the host's ε the +1 state gets the FNV correction; the ground
    # states are the ones above (cache hits), only the model is new.
    corrected = defectformation(si, TINY, **vacancy_call, epsilon=11.7).result
    assert corrected.correction_model == "3D FNV" and corrected.epsilon == (11.7,)
    assert corrected.vacuum_charges is None  # a bulk host has no vacuum
    assert corrected.charged_energies == pytest.approx(result.charged_energies)
    (lattice0, lattice1), (_, alignment1) = (
        corrected.lattice_energies[0],
        corrected.alignments[0],
    )
    assert lattice0 == 0 and corrected.corrections[0, 0] == 0
    # A point charge +1 in this 40 Å^3 cell: E_lat ≈ α/(2εL) ≈ 0.5 eV, less
    # for the Gaussian's spread; positive (the images cost energy).
    assert 0.1 < lattice1 < 0.6
    assert corrected.corrections[0, 1] == pytest.approx(lattice1 + alignment1)
    shift = corrected.charged_formation_energies - result.charged_formation_energies
    assert shift[0] == pytest.approx([0.0, corrected.corrections[0, 1]])
    # Far from the vacancy the potential rises by the missing atom's mean
    # potential (∝ 1/V: volts in this 2-atom cell), so ΔV < 0.
    assert alignment1 < 0
    # The charge equilibrium follows the corrected energies: c ∝ exp(-E_f/kT).
    from ase.units import kB

    ratio = np.log(corrected.concentrations[0, 1] / result.concentrations[0, 1])
    fermi_shift = corrected.fermi_level - result.fermi_level
    assert ratio * kB * 300 == pytest.approx(
        -(corrected.corrections[0, 1] + fermi_shift), rel=1e-3
    )
    _, charged_figure = corrected.figures(tmp_path)
    assert charged_figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
def test_charged_layer_off_the_middle_of_its_cell(store):
    # asr.gs gives a 2D cell GPAW's dipole layer, which cancels the cell's
    # dipole about its middle: a charged layer 2 Å off the middle has one
    # (q × 2 Å), and its cancelling field costs the charged cell ~1 eV. The
    # 2D model has the dipole layer too: the corrected energy stays put.
    from ase.build import graphene

    from asr.recipes.defectformation import charged, finite_size, layer_slab
    from asr.recipes.setup.defects import main as setup_defects

    calc = tiny_pw([1, 1, 1])
    energies, corrected = [], []
    for shift in [0.0, 2.0]:
        layer = graphene("BN", a=2.51, vacuum=6.0)
        layer.set_initial_magnetic_moments([0, 0])
        layer.positions[:, 2] += shift
        defects = setup_defects(
            layer, supercell=(2, 2, 1), antisites=False, charge_states=(0, 1)
        ).result
        i = defects.names.index("v_N")
        host, vacancy = defects.pristine, defects.structures[i]
        energy = (
            groundstate(vacancy, charged(calc, 1)).result.energy
            - groundstate(host, calc).result.energy
        )
        fix = finite_size(
            host,
            vacancy,
            charged(calc, 1),
            calc,
            defects.sites[i],
            1,
            (6.0, 2.2),
            layer_slab(host, None),
        )
        energies.append(energy)
        corrected.append(energy + fix.energy)
        assert abs(fix.vacuum_charge) < 0.01  # a positive charge stays put
    assert abs(energies[1] - energies[0]) > 1.0
    assert corrected[1] == pytest.approx(corrected[0], abs=0.15)
