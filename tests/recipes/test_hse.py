import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw
from qp_soc_checks import check_silicon_soc_bands

from asr.recipes.hse import fermi_level_between
from asr.recipes.hse import main as hse

TINY = tiny_pw([2, 2, 2], convergence={"bands": "CBM+0.5"}, nbands="200%")


def test_fermi_level_in_the_middle_of_the_gap_or_at_the_top():
    eps = np.array([[[-1.0, 2.0], [-0.5, 3.0]]])
    occupied = np.array([[[True, False], [True, False]]])
    assert fermi_level_between(eps, occupied) == pytest.approx(0.75)
    metal = np.array([[[-1.0, 0.2], [0.5, 3.0]]])
    assert fermi_level_between(metal, occupied) == 0.5


@pytest.mark.gpaw
def test_silicon_hse_gap_is_larger_than_pbe(store, tmp_path):
    result = hse(
        bulk("Si"), TINY, kpts={"size": [2, 2, 2], "gamma": True}, empty_bands=4
    ).result
    # HSE06 opens the gap of silicon (1.1-1.2 eV converged; PBE ~0.6 eV).
    assert result.gap_hse > result.gap_pbe + 0.4
    assert 0.8 < result.gap_hse < 2.2
    assert result.vbm_hse < result.efermi_hse < result.cbm_hse
    assert result.cbm_hse - result.vbm_hse == pytest.approx(result.gap_hse)
    assert result.gap_dir_hse > result.gap_hse  # indirect, like PBE
    assert result.k_vbm_hse == pytest.approx([0, 0, 0])
    assert 0.0 < result.gap_hse - result.gap_hse_soc < 0.1  # SOC lifts the VBM
    assert result.eigenvalues_hse.shape == result.eigenvalues_pbe.shape
    assert result.database_keys()["gap_hse"] == result.gap_hse
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
@pytest.mark.slow
def test_silicon_hse_band_structure(store, tmp_path):
    from asr.recipes.hse_bandstructure import main as hse_bandstructure

    kpts = {"size": [2, 2, 2], "gamma": True}
    result = hse_bandstructure(
        bulk("Si"), TINY, kpts=kpts, empty_bands=4, npoints=30
    ).result
    hse_result = hse(bulk("Si"), TINY, kpts=kpts, empty_bands=4).result
    assert result.method == "HSE06" and result.bands[0] == 0
    assert result.energies.shape == result.energies_dft.shape
    assert result.energies.shape[1] == 30
    # At Γ (first path point, on the grid) the bands are asr.hse's own.
    gamma = hse_result.eigenvalues_hse[0, 0] - hse_result.eigenvalues_pbe[0, 0]
    n = result.energies.shape[2]
    assert result.energies[0, 0] - result.energies_dft[0, 0] == pytest.approx(
        gamma[:n], abs=1e-6
    )
    # The path's gap opens as asr.hse's does (both indirect for silicon).
    assert result.gap > hse_result.gap_pbe + 0.4
    assert result.vbm < result.efermi < result.cbm
    # With spin-orbit coupling, on the same path.
    check_silicon_soc_bands(result, hse_result.vbm_hse_soc - hse_result.vbm_hse)
    (figure,) = result.figures(tmp_path)
    assert figure.name == "hse06-bandstructure.png"
    assert figure.read_bytes().startswith(b"\x89PNG")
