import numpy as np
import pytest
from ase.build import mx2
from ase.dft.kpoints import monkhorst_pack

from asr.recipes.fermisurface import (
    fermi_contours,
    fermi_crossings,
    in_first_zone,
    lattice_vectors,
)
from asr.recipes.fermisurface import main as fermisurface

# -- free electrons, no GPAW ----------------------------------------------------


def free_electrons(size, reciprocal, kf):
    """A Γ-centred grid and one free-electron band, zero at |k| = kf."""
    size = np.array(size)
    bzk = monkhorst_pack(size) + (size % 2 == 0) / (2 * size)
    k = np.linalg.norm(bzk @ reciprocal, axis=1)
    e_km = (k**2 - kf**2)[:, np.newaxis]
    return bzk, e_km, np.ones_like(e_km)


def test_free_electron_fermi_circle_in_2d():
    reciprocal = 2 * np.pi * mx2("MoS2", vacuum=4.0).cell.reciprocal()
    bzk, e_km, s_km = free_electrons([24, 24, 1], reciprocal, kf=0.8)
    contours = fermi_contours(e_km, s_km, bzk, reciprocal)
    radius = np.linalg.norm(contours[:, :2], axis=1)
    assert len(contours) > 50
    assert np.allclose(radius, 0.8, atol=0.01)
    assert np.allclose(contours[:, 2], 1.0)
    assert len(np.unique(contours[:, 3])) == 1  # one closed line


def test_free_electron_fermi_sphere_in_3d():
    from ase.build import bulk

    reciprocal = 2 * np.pi * bulk("Na", "bcc", a=4.23).cell.reciprocal()
    bzk, e_km, s_km = free_electrons([12, 12, 12], reciprocal, kf=0.7)
    points, spins = fermi_crossings(e_km, s_km, bzk)
    kc = points @ reciprocal
    kc = kc[in_first_zone(kc, lattice_vectors(reciprocal, 3))]
    assert len(kc) > 100
    assert np.allclose(np.linalg.norm(kc, axis=1), 0.7, atol=0.01)


# -- GPAW ----------------------------------------------------------------------------


@pytest.mark.gpaw
@pytest.mark.slow  # the ground state, when run alone
def test_iron_has_a_fermi_surface(shared_store, fe, tmp_path):
    result = fermisurface(fe.atoms, calculator=fe.calculator).result
    assert result.dimensionality == 3 and result.contours is None
    assert result.nbands_crossing > 0
    assert len(result.kpoints) > 0 and result.kpoints.shape[1] == 3
    assert len(result.spin_z) == len(result.kpoints)
    # Folded into the first Brillouin zone.
    lattice = lattice_vectors(result.reciprocal_cell, 3)
    assert np.all(in_first_zone(result.kpoints, lattice))
    # Ferromagnetic iron: spin-polarized Fermi sheets.
    assert np.abs(result.spin_z).max() > 0.9
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
@pytest.mark.slow  # the ground state, when run alone
def test_a_semiconductor_has_no_fermi_surface(shared_store, mos2):
    with pytest.raises(ValueError, match="band gap"):
        fermisurface(mos2.atoms, calculator=mos2.calculator)
