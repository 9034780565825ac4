from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk, mx2
from gpaw_settings import lcao, tiny_pw

from asr.recipes.gs import (
    band_edges,
    boundary_potential,
    gs_spec,
    soc_work_function,
    stress_in_plane,
    vacuum_levels_2d,
)
from asr.recipes.gs import main as groundstate

# Tiny but honest settings: Si's PBE gap is ~0.6 eV at convergence.
TINY = tiny_pw(2.0, convergence={"bands": "CBM+0.5"}, nbands="150%")


# -- helpers, no GPAW run -----------------------------------------------------


def test_band_edges_of_an_indirect_semiconductor():
    kpts = np.array([[0, 0, 0], [0.5, 0, 0], [0.25, 0, 0]])
    eigenvalues = np.array([[[-1.0, 0.0, 2.0], [-2.0, -0.5, 1.0], [-1, -0.2, 1.5]]])
    edges = band_edges(eigenvalues, efermi=0.5, kpts=kpts)
    assert edges.gap == pytest.approx(1.0)
    assert edges.gap_dir == pytest.approx(1.5)
    assert (edges.vbm, edges.cbm) == (0.0, 1.0)
    assert edges.skn_vbm == (0, 0, 1) and edges.skn_cbm == (0, 1, 2)
    assert edges.k_vbm.tolist() == [0, 0, 0] and edges.k_cbm.tolist() == [0.5, 0, 0]
    assert edges.k_dir.tolist() == [0.5, 0, 0]


def test_band_edges_of_a_metal_and_of_a_spin_polarized_insulator():
    kpts = np.zeros((2, 3))
    metal = band_edges(np.array([[[-1.0, 0.2], [-1.0, -0.2]]]), 0.0, kpts)
    assert metal.gap == metal.gap_dir == 0.0 and metal.vbm is None
    spins = np.array([[[-1.0, 2.0], [-1.5, 2.5]], [[-3.0, 1.0], [-2.0, 1.5]]])
    edges = band_edges(spins, 0.0, kpts)
    assert edges.gap == pytest.approx(2.0)  # VBM in spin up, CBM in spin down
    assert edges.skn_vbm == (0, 0, 0) and edges.skn_cbm == (1, 0, 1)


def test_vacuum_levels_are_read_outside_the_dipole_layer():
    height = 20.0
    z = np.linspace(0, height, 200, endpoint=False)
    potential = np.where(z < 10.0, 4.0, 5.0)  # a step inside the layer
    potential[:3] = potential[-3:] = 0.0  # the dipole layer at the boundary
    bottom, top = vacuum_levels_2d(potential, height, np.array([8.0, 12.0]))
    assert (bottom, top) == (4.0, 5.0)
    with pytest.raises(ValueError, match="centre"):
        vacuum_levels_2d(potential, height, np.array([-0.5, 3.0]))


def test_boundary_potential_and_stress_in_plane():
    potential = np.zeros((4, 4, 6))
    potential[:, :, 0] = 2.0
    assert boundary_potential(potential, [True, True, False]) == 2.0
    assert boundary_potential(potential, [False, False, False]) == pytest.approx(
        (2 / 6 + 2 / 6 + 2.0) / 3
    )
    stress = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert stress_in_plane(stress, np.diag([3.0, 3.0, 10.0])).tolist() == [10, 20, 60]


def test_spec_adds_a_dipole_correction_for_2d_only():
    assert gs_spec(mx2("MoS2", vacuum=4.0), TINY)["poissonsolver"] == {
        "dipolelayer": "xy"
    }
    assert "poissonsolver" not in gs_spec(bulk("Si"), TINY)
    assert "poissonsolver" not in TINY
    with pytest.raises(ValueError, match="GPAW"):
        gs_spec(bulk("Si"), {"name": "emt"})


# -- real GPAW ----------------------------------------------------------------


@pytest.mark.gpaw
def test_silicon_has_an_indirect_gap(store):
    from gpaw import GPAW

    atoms = bulk("Si")
    record = groundstate(atoms, TINY)
    gs = record.result
    assert 0.4 < gs.gap < 0.8
    assert gs.gap_dir > gs.gap + 1.0  # direct gap at Γ, ~2.5 eV in PBE
    assert gs.k_vbm == pytest.approx([0, 0, 0])
    assert np.linalg.norm(gs.k_cbm) > 0.3  # CBM along Γ-X
    assert gs.vbm < gs.efermi < gs.cbm
    assert gs.cbm - gs.vbm == pytest.approx(gs.gap)
    assert 0.3 < gs.gap_soc < gs.gap  # SOC splits the VBM upwards
    assert np.abs(gs.forces).max() < 1e-3
    assert gs.stress.shape == (6,) and gs.stress_2d is None
    assert gs.vacuum_level is None and gs.work_function is None
    assert not gs.spin_polarized and gs.magmom == 0.0
    assert gs.database_keys()["gap"] == gs.gap
    calc = GPAW(gs.gpw.path, txt=None)
    assert calc.get_fermi_level() == pytest.approx(gs.efermi)
    again = groundstate(atoms, TINY)  # a cache hit, read back from the store
    assert again.oid == record.oid
    assert again.result.skn_cbm == gs.skn_cbm and again.result.gpw == gs.gpw


@pytest.mark.gpaw
def test_mos2_monolayer_vacuum_level_and_work_function(store, tmp_path):
    record = groundstate(mx2("MoS2", vacuum=4.0), {**TINY, "kpts": {"density": 1.0}})
    gs = record.result
    assert 1.0 < gs.gap < 2.5
    assert gs.vacuum_level > gs.efermi
    assert gs.vacuum_level_top == pytest.approx(gs.vacuum_level_bottom, abs=0.02)
    assert 4.0 < gs.work_function < 6.0  # PBE: ~5 eV
    # From the Fermi level with spin-orbit coupling, which differs.
    assert gs.work_function == pytest.approx(gs.vacuum_level - gs.efermi_soc)
    assert abs(gs.efermi_soc - gs.efermi) > 1e-3
    assert gs.stress_2d.shape == (3,)
    assert len(gs.z) == len(gs.potential_z)
    assert gs.potential_z.max() == pytest.approx(gs.vacuum_level, abs=0.05)
    (figure,) = gs.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert gs.webpanel()["figures"] == ["gs-potential.png"]
    # A version 1 Record (work function without SOC) migrates in place.
    old = replace(record, version=1)
    old.result = replace(gs, work_function=gs.vacuum_level - gs.efermi)
    migrated = soc_work_function(old)
    assert migrated.version == 2
    assert migrated.result.work_function == gs.work_function


def test_kpoint_grids_of_hexagonal_layers_hold_k():
    from ase.build import bulk, mx2

    from asr.recipes.common import kpts_for

    assert kpts_for(mx2("MoS2", vacuum=7.5), 12)["size"] == [30, 30, 1]
    assert kpts_for(bulk("Si"), 12)["size"] == [25, 25, 25]  # fcc: untouched


@pytest.mark.gpaw
def test_iron_given_without_moments_is_found_ferromagnetic(store):
    atoms = bulk("Fe")
    atoms.set_initial_magnetic_moments(None)  # ASE's bulk Fe carries 2.3 μB
    gs = groundstate(atoms, lcao([4, 4, 4])).result
    assert gs.spin_polarized
    assert gs.magmom > 1.5  # ~2.2 μB converged
    assert gs.magmoms[0] > 1.5
    paired = groundstate(atoms, lcao([4, 4, 4]), magnetic=False).result
    assert not paired.spin_polarized and paired.energy > gs.energy
