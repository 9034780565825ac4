import numpy as np
import pytest
from ase import units
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.infraredpolarizability import (
    COULOMB,
    HBAR,
    lattice_polarizability,
    mode_charges,
)
from asr.recipes.infraredpolarizability import main as infraredpolarizability

TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)
BERRY = {"size": [2, 2, 2], "gamma": False}


@pytest.fixture
def bn_store(tmp_path_factory):
    """The store of test_borncharges: its Born charges are reused."""
    from asr.core import use_store
    from asr.store import init_store

    store = init_store(tmp_path_factory.getbasetemp() / "asr-cubic-bn")
    with use_store(store):
        yield store


def test_one_oscillator():
    charges = np.array([[1.0, 0.0, 0.0]])  # e/√amu
    energy = 100.0  # meV
    alpha = lattice_polarizability(charges, np.array([energy]), [0.0, 50.0], 0.0, 10.0)
    omega = energy * 1e-3 / HBAR
    assert alpha[0, 0, 0] == pytest.approx(COULOMB / 10.0 / omega**2)
    assert alpha[1, 0, 0] == pytest.approx(alpha[0, 0, 0] * 4 / 3)  # 1/(1-1/4)
    assert alpha[:, 1:, :] == pytest.approx(0)
    # e²/(4πε₀ V amu ω²) is dimensionless in ASE units.
    assert units.Hartree * units.Bohr == pytest.approx(14.399645, rel=1e-6)


def test_mode_charges_of_a_rigid_translation_vanish():
    born = np.array([np.eye(3) * 2.0, -np.eye(3) * 2.0])
    masses = np.array([4.0, 4.0])
    translation = np.array([[[1.0, 0, 0], [1.0, 0, 0]]]) / np.sqrt(2)
    assert mode_charges(born, translation, masses) == pytest.approx(0)
    optical = np.array([[[1.0, 0, 0], [-1.0, 0, 0]]]) / np.sqrt(2)
    # p = 2 e (1/√2)/√4 amu^-1/2 from each atom.
    assert mode_charges(born, optical, masses)[0, 0] == pytest.approx(np.sqrt(2))


@pytest.mark.gpaw
@pytest.mark.slow
def test_cubic_boron_nitride_infrared(bn_store, tmp_path):
    atoms = bulk("BN", "zincblende", a=3.62)
    result = infraredpolarizability(
        atoms, TINY, BERRY, phonon_calculator=TINY, convergence={}
    ).result  # the Born charges of test_borncharges, from its store
    acoustic, optical = result.mode_energies[:3], result.mode_energies[3:]
    assert np.abs(acoustic).max() < 1.0
    assert optical == pytest.approx(optical[0], rel=1e-3)  # triply degenerate TO
    assert 115 < optical[0] < 160  # meV (131 meV measured)
    assert result.ir_intensities[:3] == pytest.approx(0)
    assert (result.ir_intensities[3:] > 0.1).all()
    # Static lattice part: 4πα ~ ε0 - ε∞ (2.3 measured).
    assert 0.5 < 4 * np.pi * result.alphax_lat < 3.5
    assert result.alphay_lat == pytest.approx(result.alphax_lat, rel=1e-3)
    assert result.alphax is None  # no electronic part asked for
    w = result.frequencies
    peak = w[np.argmax(result.alpha_wvv[:, 0, 0].imag)]
    assert peak == pytest.approx(optical[0], abs=2 * (w[1] - w[0]) + result.eta)
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
