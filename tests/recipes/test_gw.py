import warnings

import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw
from qp_soc_checks import check_silicon_soc_bands

from asr.recipes.gw import main as gw
from asr.recipes.gw import quasiparticle_energies, screening_bands

TINY = tiny_pw([2, 2, 2], convergence={"bands": "CBM+0.5"}, nbands="200%")


def test_screening_bands_grow_with_the_cutoff():
    si = bulk("Si")
    assert screening_bands(si, 50.0) < screening_bands(si, 100.0)
    assert screening_bands(si, 100.0) == pytest.approx(
        2**1.5 * screening_bands(si, 50.0), rel=0.05
    )


@pytest.mark.gpaw
def test_silicon_g0w0_opens_the_gap(store, tmp_path):
    result = gw(
        bulk("Si"),
        TINY,
        kpts={"size": [2, 2, 2], "gamma": True},
        ecut=50.0,
        ecut_extrapolation=False,
        ppa=True,
        valence_bands=2,
        conduction_bands=2,
    ).result
    assert result.gap_gw > result.gap_dft + 0.2  # G0W0 opens the PBE gap
    assert 0.7 < result.gap_gw < 2.0
    assert result.cbm_gw - result.vbm_gw == pytest.approx(result.gap_gw)
    assert result.bands == [2, 6] and result.nvalence == 2
    assert result.eigenvalues_gw.shape == (1, 3, 4)
    assert ((result.z > 0.5) & (result.z < 1.0)).all()
    # The C2DB's empirical Z = 0.75 for every state; GPAW's Z kept beside it.
    parts = {
        "eps": result.eigenvalues_dft,
        "sigma": result.sigma,
        "exx": result.exx,
        "vxc": result.vxc,
    }
    assert result.empirical_z == 0.75
    assert result.eigenvalues_gw == pytest.approx(quasiparticle_energies(parts, 0.75))
    assert result.eigenvalues_gw_z == pytest.approx(
        quasiparticle_energies(parts, result.z)
    )
    assert abs(result.gap_gw - result.gap_gw_z) > 0.01
    assert result.gap_gw_z > result.gap_dft + 0.2
    assert 0.0 < result.gap_gw - result.gap_gw_soc < 0.1
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
@pytest.mark.slow
def test_silicon_g0w0_band_structure(store, tmp_path):
    from asr.recipes.gs import band_edges
    from asr.recipes.gw_bandstructure import main as gw_bandstructure

    settings = {
        "kpts": {"size": [2, 2, 2], "gamma": True},
        "ecut": 50.0,
        "ecut_extrapolation": False,
        "ppa": True,
        # All three top valence bands: SOC splits their threefold Γ state.
        "valence_bands": 3,
        "conduction_bands": 3,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the window holds Γ's whole level
        result = gw_bandstructure(bulk("Si"), TINY, npoints=30, **settings).result
    gw_result = gw(bulk("Si"), TINY, **settings).result
    assert result.method == "G0W0" and result.bands == [1, 7]
    assert result.energies.shape == result.energies_dft.shape == (1, 30, 6)
    # At Γ (first path point, on the grid) the corrections are asr.gw's own,
    # with its empirical Z.
    gamma = gw_result.eigenvalues_gw[0, 0] - gw_result.eigenvalues_dft[0, 0]
    assert result.energies[0, 0] - result.energies_dft[0, 0] == pytest.approx(
        gamma, abs=1e-6
    )
    # The gap along the path opens as asr.gw's does.
    pbe = band_edges(result.energies_dft, result.efermi, result.path["kpts"])
    assert result.gap > pbe.gap + 0.2
    assert result.vbm < result.efermi < result.cbm
    # With spin-orbit coupling, on the same path.
    check_silicon_soc_bands(result, gw_result.vbm_gw_soc - gw_result.vbm_gw)
    (figure,) = result.figures(tmp_path)
    assert figure.name == "g0w0-bandstructure.png"
    # Two of the three top valence bands: the user is told to widen it.
    two = {**settings, "valence_bands": 2}
    with pytest.warns(UserWarning, match="band 1 outside it at k-point 0.*valence_b"):
        gw_bandstructure(bulk("Si"), TINY, npoints=30, **two)
    assert figure.read_bytes().startswith(b"\x89PNG")
