import numpy as np
import pytest
from ase.build import bulk, fcc111, molecule
from ase.stress import full_3x3_to_voigt_6_strain

from asr.recipes import get_recipe
from asr.recipes.relax import main as relax
from asr.recipes.setup.strains import main as strains
from asr.recipes.setup.strains import with_fixed_kpts
from asr.recipes.stiffness import main as stiffness

EMT = {"name": "emt"}


def test_registry():
    assert get_recipe("asr.setup.strains") is strains


def test_strains_of_a_layer(store):
    layer = fcc111("Cu", size=(1, 1, 1), vacuum=6.0)
    result = strains(layer, strain_percent=2.0).result
    assert result.labels == ["xx-2%", "xx+2%", "yy-2%", "yy+2%", "xy-2%", "xy+2%"]
    assert result.components == ["xx", "xx", "yy", "yy", "xy", "xy"]
    assert list(result.signs) == [-1, 1] * 3
    voigt = {"xx": 0, "yy": 1, "xy": 5}
    for atoms, name, sign in zip(
        result.structures, result.components, result.signs, strict=True
    ):
        # cell = cell0 (1 + ε)ᵀ: recover 1 + ε, read ε in Voigt notation.
        deformation = np.linalg.solve(layer.cell.array, atoms.cell.array).T
        expected = np.zeros(6)
        expected[voigt[name]] = sign * 0.02
        assert np.allclose(full_3x3_to_voigt_6_strain(deformation), expected)
        assert np.allclose(atoms.get_scaled_positions(), layer.get_scaled_positions())
    only = strains(layer, components=("xy",)).result
    assert only.labels == ["xy-1%", "xy+1%"]


def test_stiffness_finds_the_strained_relaxations(store):
    """Each strained cell relaxed on its own (a task of a workflow): stiffness
    makes no relaxation of its own, it uses these Records."""
    atoms = relax(bulk("Al"), calculator=EMT).result.atoms
    cells = strains(atoms).result.structures
    assert len(cells) == 12  # 3D: six components, ± each
    spec = with_fixed_kpts(atoms, EMT)
    fixed = {"fmax": 0.01, "fix_cell": True, "allow_symmetry_breaking": True}
    separate = [relax(cell, calculator=spec, **fixed) for cell in cells]
    record = stiffness(atoms, calculator=EMT)
    assert {d.uid for d in record.dependencies} == {r.uid for r in separate}
    assert record.result.c_11 > record.result.c_12 > 0


def test_strains_errors(store):
    layer = fcc111("Cu", size=(1, 1, 1), vacuum=6.0)
    with pytest.raises(ValueError, match="among"):
        strains(layer, components=("zz",))
    with pytest.raises(ValueError, match="positive"):
        strains(layer, strain_percent=0.0)
    with pytest.raises(ValueError, match="3D or 2D"):
        strains(molecule("H2", vacuum=3.0))
