import numpy as np
import pytest
from ase.build import bulk, fcc111

from asr.recipes.relax import main as relax
from asr.recipes.stiffness import main as stiffness

EMT = {"name": "emt"}


def test_aluminium_is_mechanically_stable(store, tmp_path):
    atoms = relax(bulk("Al"), calculator=EMT).result.atoms
    record = stiffness(atoms, calculator=EMT)
    result = record.result
    c = result.stiffness_tensor
    assert c.shape == (6, 6) and result.unit == "GPa"
    assert result.c_11 > result.c_12 > 0
    assert result.c_44 > 0
    assert np.allclose(c, c.T, atol=0.1)
    assert result.c_11 == pytest.approx(result.c_33, rel=1e-3)  # cubic
    assert result.dynamic_stability_stiffness == "stable"
    assert result.min_eigenvalue == pytest.approx(result.c_11 - result.c_12, rel=1e-2)
    # Every strained cell was relaxed by asr.relax: recorded as dependencies.
    assert len(record.dependencies) == 12
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_clamped_ions_equal_relaxed_for_one_atom(store):
    atoms = relax(bulk("Al"), calculator=EMT).result.atoms
    clamped = stiffness(atoms, calculator=EMT, relax_positions=False)
    assert clamped.dependencies == []
    relaxed = stiffness(atoms, calculator=EMT).result
    assert np.allclose(clamped.result.stiffness_tensor, relaxed.stiffness_tensor)


def test_2d_in_plane_stiffness(store):
    atoms = relax(fcc111("Cu", size=(1, 1, 1), vacuum=6.0), calculator=EMT).result
    result = stiffness(atoms.atoms, calculator=EMT).result
    assert result.unit == "N/m" and result.components == ["xx", "yy", "xy"]
    assert result.stiffness_tensor.shape == (3, 3)
    assert result.c_33 is None and "c_33" not in result.database_keys()
    # Hexagonal layer: isotropic in plane.
    assert result.c_11 == pytest.approx(result.c_22, rel=1e-2)
    assert result.c_66 == pytest.approx((result.c_11 - result.c_12) / 2, rel=1e-2)
    assert result.dynamic_stability_stiffness == "stable"


def test_unstable_cell_is_detected(store):
    # Simple cubic copper is unstable against shear.
    atoms = relax(bulk("Cu", "sc", a=2.4), calculator=EMT).result.atoms
    result = stiffness(atoms, calculator=EMT, relax_positions=False).result
    assert result.dynamic_stability_stiffness == "unstable"
    assert result.min_eigenvalue < 0


def test_molecule_is_refused(store):
    from ase.build import molecule

    with pytest.raises(ValueError, match="3D or 2D"):
        stiffness(molecule("H2", vacuum=3.0), calculator=EMT)
