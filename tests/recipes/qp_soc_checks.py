"""Checks shared by the HSE06 and G0W0 band-structure tests of silicon."""

from __future__ import annotations

import numpy as np
import pytest


def check_silicon_soc_bands(result, vbm_shift_on_grid: float) -> None:
    """Spinor bands of a quasiparticle band structure of silicon.

    `vbm_shift_on_grid` is the shift of the VBM by spin-orbit coupling that
    asr.hse or asr.gw found on their grid: the VBM is at Γ, on the grid and
    the path alike, so the path's shift must be the same.
    """
    nspins, nk, nbands = result.energies.shape
    assert result.energies_soc.shape == result.spin_soc.shape == (nk, 2 * nbands)
    assert (np.abs(result.spin_soc) <= 1 + 1e-6).all()
    # At Γ (the first path point) the top valence band, threefold without
    # SOC, splits into four states and the two of the split-off band
    # (Δ_so = 0.044 eV measured).
    nocc = 2 * (result.energies[0, 0] < result.efermi).sum()
    top = result.energies_soc[0, nocc - 6 : nocc]
    assert top[2:] == pytest.approx(top[-1], abs=1e-4)
    assert 0.03 < top[-1] - top[0] < 0.07
    assert top[0] == pytest.approx(top[1], abs=1e-6)
    # The VBM moves up by Δ_so / 3, the gap shrinks by as much.
    assert result.vbm_soc - result.vbm == pytest.approx(vbm_shift_on_grid, abs=1e-4)
    assert result.gap - result.gap_soc == pytest.approx(
        (top[-1] - top[0]) / 3, abs=2e-3
    )
    assert result.vbm_soc < result.efermi_soc < result.cbm_soc
