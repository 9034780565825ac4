import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.polarizability import main as polarizability

TINY = tiny_pw([2, 2, 2], convergence={"bands": "CBM+0.5"}, nbands="200%")


@pytest.mark.gpaw
def test_silicon_rpa_polarizability(store, tmp_path):
    result = polarizability(
        bulk("Si"),
        TINY,
        kpts={"size": [4, 4, 4], "gamma": True},
        nbands=16,
        ecut=20.0,
        eta=0.2,
        omegamax=10.0,
        domega0=0.05,
    ).result
    epsilon = 1 + 4 * np.pi * result.alphax_el
    assert 10 < epsilon < 35  # ~12 at convergence, too large with 4x4x4 k
    # Cubic: isotropic; local fields screen the static response.
    assert result.alphay_el == pytest.approx(result.alphax_el, rel=1e-3)
    assert result.alphaz_el == pytest.approx(result.alphax_el, rel=1e-3)
    assert result.alphax_el < result.alphax_nolf_w[0].real
    w = result.frequencies
    assert w[0] == 0.0 and w[-1] >= 10.0
    absorbing = w[np.argmax(result.alphax_w.imag)]
    assert 2.5 < absorbing < 5.0  # E1/E2 peaks of silicon
    assert (result.alphax_w.imag > -1e-6).all()
    assert result.unit == "" and result.dimensionality == 3
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
