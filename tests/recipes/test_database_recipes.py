import pytest
from ase.build import bulk, molecule, mx2
from ase.calculators.emt import EMT
from ase.db import connect

from asr.recipes import get_recipe
from asr.recipes.database.duplicates import main as duplicates
from asr.recipes.database.rmsd import main as rmsd


def test_registry():
    assert get_recipe("asr.database.rmsd") is rmsd
    assert get_recipe("asr.database.duplicates") is duplicates


def test_rmsd_of_rotated_supercell_is_zero(store):
    copper = bulk("Cu", "fcc", a=3.6)
    supercell = copper.repeat(2)
    supercell.rotate(37, "x", rotate_cell=True)
    supercell.translate([0.3, 0.1, 0.2])
    result = rmsd(copper, supercell).result
    assert result.rmsd == pytest.approx(0, abs=1e-8)
    assert result.same_composition
    assert result.natoms == (1, 8)


def test_rmsd_measures_noise_and_lattice_constant(store):
    copper = bulk("Cu", "fcc", a=3.6)
    supercell = copper.repeat(2)
    rattled = supercell.copy()
    rattled.rattle(0.02, seed=3)
    moved = rattled.positions - supercell.positions
    moved -= moved.mean(axis=0)
    expected = ((moved**2).sum(axis=1).mean()) ** 0.5
    assert rmsd(copper, rattled).result.rmsd == pytest.approx(expected)
    # For one-atom fcc cells the RMSD is the change of the lattice constant:
    assert rmsd(copper, bulk("Cu", "fcc", a=3.7)).result.rmsd == pytest.approx(0.1)
    assert rmsd(copper, bulk("Cu", "bcc", a=2.87)).result.rmsd > 1


def test_rmsd_different_composition_is_none(store):
    result = rmsd(bulk("Cu"), bulk("Au")).result
    assert result.rmsd is None
    assert not result.same_composition


def test_rmsd_2d_and_molecules(store):
    monolayer = mx2("MoS2", vacuum=7.5)
    other = monolayer.repeat((2, 2, 1))
    other.rotate(23, "z", rotate_cell=True)
    other.center(vacuum=9.0, axis=2)
    assert rmsd(monolayer, other).result.rmsd == pytest.approx(0, abs=1e-8)
    polytype = mx2("MoS2", kind="1T", vacuum=7.5)
    assert rmsd(monolayer, polytype).result.rmsd > 0.5
    water = molecule("H2O")
    turned = water.copy()
    turned.rotate(50, "y")
    turned.translate([1, 2, 3])
    assert rmsd(water, turned).result.rmsd == pytest.approx(0, abs=1e-8)
    with pytest.raises(ValueError, match="periodicity"):
        rmsd(monolayer, bulk("Cu"))


def test_duplicates(store, tmp_path):
    path = tmp_path / "structures.db"
    db = connect(path)
    copper = bulk("Cu", "fcc", a=3.6)
    supercell = copper.repeat(2)
    supercell.rotate(37, "x", rotate_cell=True)
    rattled = supercell.copy()
    rattled.rattle(0.02, seed=3)
    rows = [copper, bulk("Au"), supercell, rattled, bulk("Cu", "bcc", a=2.87)]
    for atoms in rows:
        atoms.calc = EMT()
        atoms.get_potential_energy()
        db.write(atoms)
    db.write(copper, magstate="FM")  # row 6: no energy, another magstate
    result = duplicates(str(path)).result
    assert result.nrows == 6
    assert result.groups == [[1, 3, 4, 6]]  # the lowest id when an energy is missing
    assert result.keep == [1]
    assert result.remove == [3, 4, 6]
    assert result.database == str(path)
    strict = duplicates(str(path), rmsd_tol=0.01, comparison_keys=("magstate",))
    assert strict.result.groups == [[1, 3]]  # energies equal per atom: lowest id
    with pytest.raises(ValueError, match="no database file"):
        duplicates(str(tmp_path / "missing.db"))
