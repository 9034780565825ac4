import numpy as np
import pytest

from asr.recipes.emasses import (
    HBAR2_OVER_ME,
    Parabola,
    cube,
    mare_percent,
    principal_masses,
)
from asr.recipes.emasses import main as emasses

# -- the fit, no GPAW ------------------------------------------------------------


def test_a_parabola_is_fitted_exactly():
    rng = np.random.default_rng(42)
    masses = np.array([0.3, 1.2])
    # Principal axes rotated by 30° and the minimum away from the origin.
    angle = np.radians(30)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    hessian = rotation @ np.diag(HBAR2_OVER_ME / masses) @ rotation.T
    q0 = np.array([0.01, -0.02])
    q = cube(2, 0.05, 5) + 1e-3 * rng.standard_normal((25, 2))
    energies = 1.5 + 0.5 * np.einsum("ki,ij,kj->k", q - q0, hessian, q - q0)
    fit = Parabola.fit(q, energies)
    assert np.allclose(fit.hessian, hessian)
    assert np.allclose(fit.stationary_point(), q0)
    assert fit.is_extremum("cb") and not fit.is_extremum("vb")
    found, directions = principal_masses(fit.hessian)
    assert np.allclose(found, masses)
    assert abs(directions[0] @ rotation[:, 0]) == pytest.approx(1.0)
    assert mare_percent(fit(q), energies, fit(q0)[0]) == pytest.approx(0, abs=1e-8)


def test_non_parabolic_band_has_a_large_mare():
    t = np.linspace(-0.1, 0.1, 9)
    parabola = t**2
    band = np.abs(t) * 0.1  # linear (Dirac-like) dispersion
    assert mare_percent(parabola, band, 0.0) > 50


# -- MoS2 with GPAW ----------------------------------------------------------------


@pytest.mark.gpaw
@pytest.mark.slow
def test_mos2_masses_at_k(shared_store, mos2, tmp_path):
    result = emasses(
        mos2.atoms, calculator=mos2.calculator, radii=(0.1, 0.03), npoints=5
    ).result
    # PBE with spin-orbit coupling: holes ~0.55 mₑ, electrons ~0.45 mₑ at K,
    # isotropic there (C2DB: 0.54 and 0.42-0.47 depending on settings).
    vb = [result.emass_vb_dir1, result.emass_vb_dir2]
    cb = [result.emass_cb_dir1, result.emass_cb_dir2]
    assert result.emass_vb_dir3 is None and result.emass_cb_dir3 is None
    assert all(-0.75 < m < -0.4 for m in vb)
    assert all(0.3 < m < 0.65 for m in cb)
    assert vb[0] == pytest.approx(vb[1], rel=0.05)
    assert cb[0] == pytest.approx(cb[1], rel=0.05)
    # The extrema stay at a K point (±(1/3, 1/3)) of the zone.
    for edge in (result.vb, result.cb):
        k = edge.k[:2] * np.sign(edge.k[0])
        assert np.allclose(k, [1 / 3, 1 / 3], atol=2e-3)
    # Parabolic within 25 meV of the K valleys.
    assert result.mare_vb < 10 and result.mare_cb < 10
    assert result.cb.energy - result.vb.energy == pytest.approx(1.64, abs=0.1)
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
@pytest.mark.slow  # the ground state, when run alone
def test_a_metal_has_no_effective_masses(shared_store, fe):
    with pytest.raises(ValueError, match="metal"):
        emasses(fe.atoms, calculator=fe.calculator)
