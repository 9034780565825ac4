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


def hbn():
    from ase.build import graphene

    return graphene("BN", a=2.51, vacuum=5.0)


@pytest.mark.gpaw
def test_hbn_static_polarizability_counts_every_transition(store):
    # Re α(0) is a Kramers-Kronig integral over all transitions: version 1
    # cut GPAW's grid at omegamax and got α_z ~ 0.01 Å, α_x 0.68 Å here.
    # A finite field (±0.05 V/Å, two PBE ground states) gives α_z = 0.18-0.20 Å.
    result = polarizability(
        hbn(),
        tiny_pw([6, 6, 1], ecut=300),
        kpts={"size": [6, 6, 1], "gamma": True},
        nbands=20,
        ecut=30.0,
        domega0=0.05,
        omegamax=10.0,
    ).result
    assert result.unit == "Å" and result.dimensionality == 2
    assert 0.9 < result.alphax_el < 1.3  # 1.07 Å
    assert result.alphay_el == pytest.approx(result.alphax_el, rel=1e-3)
    assert 0.1 < result.alphaz_el < 0.3  # 0.16 Å
    w = result.frequencies
    assert 10.0 <= w[-1] < 10.5  # stored up to omegamax, computed beyond
    assert result.alphax_w[0].real == result.alphax_el


def test_gamma_only_is_refused_before_any_calculation(store):
    with pytest.raises(ValueError, match="more than one k-point"):
        polarizability(hbn(), tiny_pw([1, 1, 1]), kpts={"size": [1, 1, 1]})
    assert not list(store.records())  # no ground state was run
