import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.bse import absorption
from asr.recipes.bse import main as bse

TINY = tiny_pw([2, 2, 2], convergence={"bands": "CBM+0.5"}, nbands="200%")


def test_absorption_of_a_layer_and_of_a_bulk():
    w = np.array([0.0, 1.0, 2.0])
    alpha = np.array([1.0, 1.0 + 0.5j, 1.0 + 1.0j])
    layer = absorption(alpha, w, dim=2)
    assert layer[0] == 0.0 and layer[2] == pytest.approx(2 * layer[1] * 2)
    bulk_abs = absorption(alpha, w, dim=3)
    assert bulk_abs[0] == 0.0 and (bulk_abs[1:] > 0).all()


@pytest.mark.gpaw
@pytest.mark.slow
def test_silicon_excitons_bind_below_the_transitions(store, tmp_path):
    result = bse(
        bulk("Si"),
        TINY,
        kpts={"size": [3, 3, 3], "gamma": True},
        ecut=10.0,
        valence_bands=3,
        conduction_bands=3,
        screening_bands=12,
        directions="x",
        nfrequencies=201,
    ).result
    assert result.directions == "x" and result.alpha_bse.shape == (1, 201)
    # The electron-hole attraction puts the excitations below the
    # transition energies and moves spectral weight to lower energies.
    assert 0.0 < result.binding_energy_bse < 1.0
    assert result.e1_bse <= result.e1_bright_bse < result.gap_dir_qp
    w = result.frequencies
    onset = w[np.argmax(result.absorption_bse[0] > 0.1 * result.absorption_bse.max())]
    onset_rpa = w[
        np.argmax(result.absorption_rpa[0] > 0.1 * result.absorption_rpa.max())
    ]
    assert onset < onset_rpa
    assert (result.alpha_bse.imag > -1e-6).all()
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob("*.txt"))  # GPAW's logs stay out of the folder
