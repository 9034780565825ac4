import numpy as np
import pytest

from asr.recipes.bandstructure import main as bandstructure
from asr.recipes.gs import main as groundstate
from asr.recipes.magnetic_anisotropy import main as anisotropy

K = np.array([1 / 3, 1 / 3, 0])


def at(kpts: np.ndarray, k: np.ndarray) -> int:
    """Index of the k-point `k` (scaled, up to a reciprocal lattice vector)."""
    d = kpts - k
    d -= np.round(d)
    found = np.flatnonzero(np.linalg.norm(d, axis=1) < 1e-6)
    assert len(found), f"{k} is not on the path"
    return int(found[0])


def same_k(k1, k2) -> bool:
    d = np.asarray(k1) - np.asarray(k2)
    return bool(np.allclose(d - np.round(d), 0, atol=1e-6))


@pytest.mark.gpaw
@pytest.mark.slow
def test_mos2_direct_gap_at_k_and_spin_orbit_splitting(shared_store, mos2, tmp_path):
    record = bandstructure(mos2.atoms, calculator=mos2.calculator, npoints=60)
    bs = record.result
    assert bs.reference_name == "vacuum level"
    assert bs.bandpath().path == "GMKG"
    # Without spin-orbit coupling: a direct PBE gap at K.
    assert same_k(bs.k_vbm, K) and same_k(bs.k_cbm, K)
    assert bs.gap == pytest.approx(bs.gap_dir)
    assert 1.4 < bs.gap < 1.9
    # With it: the valence band at K splits by ~0.15 eV (PBE), into two
    # bands of opposite spin; the gap shrinks by about half the splitting.
    assert same_k(bs.k_vbm_soc, K) and same_k(bs.k_cbm_soc, K)
    k = at(bs.bandpath().kpts, K)
    nocc = int((bs.energies_soc[k] < bs.efermi_soc).sum())
    top, below = bs.energies_soc[k, nocc - 1], bs.energies_soc[k, nocc - 2]
    assert top == pytest.approx(bs.vbm_soc)
    assert 0.10 < top - below < 0.20
    assert bs.spin_z_soc[k, nocc - 1] * bs.spin_z_soc[k, nocc - 2] < -0.5
    assert bs.gap_soc < bs.gap
    # Relative to the vacuum level: -(ionisation potential) ~ -6 eV.
    gs = groundstate(mos2.atoms, mos2.calculator)
    # and the spin direction of the spin-orbit coupling (z: not a magnet).
    axis = anisotropy(mos2.atoms, mos2.calculator)
    assert [d.uid for d in record.dependencies] == [gs.uid, axis.uid]
    assert axis.result.easy_axis == "z" and not axis.result.is_magnetic
    assert bs.vbm == pytest.approx(gs.result.vbm - gs.result.vacuum_level, abs=0.05)
    assert -7.5 < bs.vbm_soc < -5.0
    assert bs.energies.shape == (1, 60, bs.energies.shape[2])
    assert bs.energies_soc.shape == (60, 2 * bs.energies.shape[2])
    names = [f.name for f in bs.figures(tmp_path)]
    assert names == ["bandstructure.png", "bz-path.png"]
    assert (tmp_path / "bandstructure.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
def test_silicon_gap_is_indirect(shared_store, si, tmp_path):
    bs = bandstructure(si.atoms, calculator=si.calculator, npoints=50).result
    assert bs.reference_name == "Fermi level"
    assert same_k(bs.k_vbm, [0, 0, 0])
    assert not same_k(bs.k_cbm, bs.k_vbm)
    assert bs.gap < bs.gap_dir - 0.3
    assert 0.2 < bs.gap < 1.2
    assert bs.vbm < bs.efermi < bs.cbm
    assert len(bs.figures(tmp_path)) == 2
