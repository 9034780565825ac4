import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule, mx2

from asr.recipes import get_recipe
from asr.recipes.setup.defects import main as defects
from asr.recipes.setup.displacements import main as displacements
from asr.recipes.setup.magnetize import main as magnetize
from asr.recipes.setup.reduce import main as reduce
from asr.recipes.setup.symmetrize import main as symmetrize


@pytest.mark.parametrize(
    "name",
    [
        "asr.setup.symmetrize",
        "asr.setup.reduce",
        "asr.setup.magnetize",
        "asr.setup.displacements",
        "asr.setup.defects",
    ],
)
def test_registry(name):
    assert get_recipe(name).name == name


def test_symmetrize_rattled_silicon(store):
    atoms = bulk("Si", cubic=True)
    atoms.rattle(0.001, seed=1)
    result = symmetrize(atoms, tolerance=0.01).result
    assert (result.spgnum_before, result.spgnum_after) == (1, 227)
    assert result.spacegroup_after == "Fd-3m"
    assert 0 < result.max_displacement < 0.01
    assert np.allclose(result.atoms.cell, atoms.cell, atol=1e-3)


def test_symmetrize_keeps_2d_orientation(store):
    atoms = mx2("MoS2", vacuum=7.5)
    atoms.rattle(0.001, seed=2)
    result = symmetrize(atoms, tolerance=0.01).result
    assert result.spgnum_after == 187
    assert tuple(result.atoms.pbc) == (True, True, False)
    assert np.allclose(result.atoms.cell[2], atoms.cell[2], atol=1e-8)
    assert np.allclose(result.atoms.cell[:2, 2], 0, atol=1e-8)
    # A cached call returns the same symmetrized structure from the store:
    again = symmetrize(atoms, tolerance=0.01).result
    assert np.allclose(again.atoms.positions, result.atoms.positions)


def test_symmetrize_bad_input(store):
    with pytest.raises(ValueError, match="positive"):
        symmetrize(bulk("Si"), tolerance=0.0)
    with pytest.raises(ValueError, match="box"):
        symmetrize(molecule("H2O"))


def test_reduce_silicon_supercell(store):
    supercell = bulk("Si").repeat(2)
    supercell.rotate(30, "z", rotate_cell=True)
    result = reduce(supercell).result
    assert (result.natoms_before, result.natoms_after) == (16, 2)
    assert result.multiplicity == 8
    assert np.isclose(result.atoms.get_volume(), bulk("Si").get_volume())


def test_reduce_2d_keeps_vacuum_along_z(store):
    monolayer = mx2("MoS2", vacuum=7.5)
    result = reduce(monolayer.repeat((3, 3, 1))).result
    primitive = result.atoms
    assert primitive.get_chemical_formula() == "MoS2"
    assert tuple(primitive.pbc) == (True, True, False)
    assert np.allclose(primitive.cell[2], monolayer.cell[2])
    assert np.allclose(primitive.cell.lengths()[:2], monolayer.cell.lengths()[:2])
    assert np.allclose(
        sorted(primitive.positions[:, 2]), sorted(monolayer.positions[:, 2])
    )


def test_reduce_keeps_magnetic_order(store):
    iron = bulk("Fe", cubic=True)
    iron.set_initial_magnetic_moments([1, -1])
    assert reduce(iron).result.natoms_after == 2
    iron.set_initial_magnetic_moments([1, 1])
    assert reduce(iron).result.natoms_after == 1


def test_reduce_bad_input(store):
    with pytest.raises(ValueError, match="molecule"):
        reduce(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[5, 5, 5]))


def test_magnetize_afm_iron(store):
    result = magnetize(bulk("Fe", cubic=True), state="afm", moment=2.0).result
    assert np.allclose(result.magmoms, [2.0, -2.0])
    assert np.allclose(result.atoms.get_initial_magnetic_moments(), [2.0, -2.0])
    assert result.total_magmom == 0.0


def test_magnetize_fm_and_nm(store):
    atoms = mx2("MoS2", vacuum=7.5)
    fm = magnetize(atoms, state="fm").result
    assert np.allclose(fm.magmoms, [1, 0, 0])  # only the d-block atom
    assert np.allclose(magnetize(bulk("Si"), state="fm").result.magmoms, [1, 1])
    assert (
        not magnetize(atoms, state="nm")
        .result.atoms.get_initial_magnetic_moments()
        .any()
    )


def test_magnetize_afm_impossible(store):
    with pytest.raises(ValueError, match="exactly two magnetic atoms"):
        magnetize(bulk("Fe"), state="afm")
    feco = Atoms(
        "FeCo", scaled_positions=[[0, 0, 0], [0.5] * 3], cell=[2.9] * 3, pbc=True
    )
    with pytest.raises(ValueError, match="one element"):
        magnetize(feco, state="afm")
    with pytest.raises(ValueError, match="unknown magnetic state"):
        magnetize(bulk("Fe"), state="ferri")


def test_displacements(store):
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    result = displacements(atoms, delta=0.02).result
    assert len(result.structures) == len(result.labels) == 12
    assert result.labels[:6] == ["0x+", "0x-", "0y+", "0y-", "0z+", "0z-"]
    for structure, i, axis, sign in zip(
        result.structures, result.indices, result.axes, result.signs, strict=True
    ):
        moved = structure.positions - atoms.positions
        expected = np.zeros((2, 3))
        expected[i, axis] = 0.02 * sign
        assert np.allclose(moved, expected)
    with pytest.raises(ValueError, match="positive"):
        displacements(atoms, delta=-0.01)


def test_defects_mos2(store, tmp_path):
    atoms = mx2("MoS2", vacuum=7.5)
    result = defects(atoms).result
    assert sorted(result.names) == ["Mo_S", "S_Mo", "v_Mo", "v_S"]
    assert result.supercell == (3, 3, 1)
    assert all(s.cell.lengths()[0] >= 8 for s in result.structures)
    by_name = dict(zip(result.names, result.structures, strict=True))
    assert by_name["v_S"].get_chemical_formula() == "Mo9S17"
    assert by_name["v_Mo"].get_chemical_formula() == "Mo8S18"
    assert by_name["Mo_S"].get_chemical_formula() == "Mo10S17"
    assert all(tuple(s.pbc) == (True, True, False) for s in result.structures)
    (figure,) = result.figures(tmp_path)
    assert figure.name == "defects.png" and figure.stat().st_size > 0
    assert result.webpanel()["figures"] == ["defects.png"]


def test_defects_inequivalent_sites_and_errors(store):
    # Rock salt without antisites: one vacancy per element.
    result = defects(bulk("NaCl", "rocksalt", a=5.64), antisites=False).result
    assert result.names == ["v_Na", "v_Cl"]
    assert result.supercell == (3, 3, 3)
    # Two inequivalent Cl sites are numbered:
    atoms = Atoms(
        "NaCl2",
        scaled_positions=[[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0.3]],
        cell=[4, 5, 6],
        pbc=True,
    )
    names = defects(atoms, supercell=(1, 1, 1)).result.names
    assert names == ["v_Na", "Cl_Na", "v_Cl1", "Na_Cl1", "v_Cl2", "Na_Cl2"]
    with pytest.raises(ValueError, match="non-periodic"):
        defects(mx2("MoS2", vacuum=7.5), supercell=(2, 2, 2))
    with pytest.raises(ValueError, match="positive integers"):
        defects(bulk("Si"), supercell=(2, 0, 2))


def test_defects_charge_states_and_version_0_migration(store):
    from dataclasses import replace

    from asr.recipes.setup.defects import neutral_only

    si = bulk("Si")
    neutral = defects(si, supercell=(1, 1, 1), antisites=False)
    assert neutral.result.charge_states == (0,)
    charged = defects(si, supercell=(1, 1, 1), charge_states=(1, -1, 0, 1)).result
    assert charged.charge_states == (-1, 0, 1)  # distinct, ascending
    for bad in [(1, 2), (0, 0.5)]:
        with pytest.raises(ValueError, match="including 0"):
            defects(si, supercell=(1, 1, 1), charge_states=bad)
    # A version 0 Record (no charge_states) migrates to the neutral default,
    # whose call it then is: its arguments gain charge_states=(0,).
    old_arguments = dict(neutral.arguments)
    del old_arguments["charge_states"]
    old = replace(neutral, version=0, arguments=old_arguments)
    migrated = neutral_only(old)
    assert migrated.version == 1
    assert migrated.arguments == neutral.arguments
    assert defects.terms(migrated.arguments) == defects.terms(neutral.arguments)
