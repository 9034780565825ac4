import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw
from magnets import iron_dimer

from asr.recipes.bse import NARROW, absorption, band_window, bse_bands, bse_class
from asr.recipes.bse import main as bse
from asr.recipes.spinaxis import spin_axis
from asr.recipes.wavefunctions import main as wavefunctions

TINY = tiny_pw([2, 2, 2], convergence={"bands": "CBM+0.5"}, nbands="200%")


def test_absorption_of_a_layer_and_of_a_bulk():
    w = np.array([0.0, 1.0, 2.0])
    alpha = np.array([1.0, 1.0 + 0.5j, 1.0 + 1.0j])
    layer = absorption(alpha, w, dim=2)
    assert layer[0] == 0.0 and layer[2] == pytest.approx(2 * layer[1] * 2)
    bulk_abs = absorption(alpha, w, dim=3)
    assert bulk_abs[0] == 0.0 and (bulk_abs[1:] > 0).all()


def test_the_band_window_counts_bands_reaching_near_the_edges():
    # Two k-points; bands 0-2 occupied. Band 0 lies 3 eV below the top,
    # band 1 reaches to 0.8 eV of it at the second k-point only.
    e_kn = np.array(
        [
            [-5.0, -2.0, 0.0, 1.0, 2.5, 4.0],
            [-4.0, -0.8, -0.5, 1.2, 1.9, 3.5],
        ]
    )
    assert band_window(e_kn, 3, 1.0) == (2, 2)
    assert band_window(e_kn, 3, 0.1) == (1, 1)
    assert band_window(e_kn, 3, 5.0) == (3, 3)
    with pytest.raises(ValueError, match="no gap"):
        band_window(e_kn, 6, 1.0)


@pytest.mark.gpaw
@pytest.mark.slow
def test_silicon_excitons_bind_below_the_transitions(store, tmp_path):
    kpts = {"size": [3, 3, 3], "gamma": True}
    result = bse(
        bulk("Si"),
        TINY,
        kpts=kpts,
        ecut=10.0,
        window=1.0,
        screening_bands=12,
        directions="x",
        nfrequencies=201,
    ).result
    # Spin-orbit coupling is on by default and reaches GPAW: the transitions
    # are those of the spinor bands (Si's split-off valence band lowers the
    # direct gap), and the 1 eV window holds spinor pairs.
    from gpaw import GPAW
    from gpaw.spinorbit import soc_eigenstates

    wfs = wavefunctions(
        bulk("Si"), TINY, kpts=kpts, nbands=12, occupations=NARROW
    ).result
    calc = GPAW(wfs.gpw.path, txt=None)
    e_km = soc_eigenstates(calc, n2=12).eigenvalues()
    nk = len(calc.get_ibz_k_points())
    e_kn = np.array([calc.get_eigenvalues(kpt=k) for k in range(nk)])
    gap_soc = (e_km[:, 8] - e_km[:, 7]).min()
    gap = (e_kn[:, 4] - e_kn[:, 3]).min()
    assert result.soc and result.window == 1.0
    assert result.gap_dir_qp == pytest.approx(gap_soc, abs=1e-3)
    assert result.gap_dir_qp < gap - 0.01
    assert (result.valence_bands, result.conduction_bands) == band_window(e_km, 8, 1.0)
    assert result.valence_bands % 2 == 0 and result.conduction_bands % 2 == 0
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


@pytest.mark.gpaw
def test_the_bse_of_an_in_plane_magnet_has_its_spins_along_the_easy_axis(store):
    """GPAW's BSE adds SOC with spins along z; asr.bse makes it use the axis.

    An Fe2 dimer in a periodic box (asr.bse takes bulk and 2D cells) with a
    single k-point: its spins lie in-plane. The whole BSE of this magnet
    is not run: GPAW 26.7 crashes (a segmentation fault in its optical pair
    velocity) on it; the spinors its BSE builds are what the axis decides.
    """
    from ase.units import Hartree
    from gpaw import GPAW
    from gpaw.spinorbit import soc_eigenstates

    atoms = iron_dimer()
    atoms.pbc = True
    spec = tiny_pw([1, 1, 1], ecut=250)
    theta, phi = axis = spin_axis(atoms, spec)
    assert theta == 90.0  # in-plane, from asr.magnetic_anisotropy
    kpts = {"size": [1, 1, 1], "gamma": True}
    wfs = wavefunctions(atoms, spec, kpts=kpts, nbands=40, occupations=NARROW).result
    calc = GPAW(wfs.gpw.path, txt=None)
    # The band window of asr.bse: spinors along the easy axis, which differ
    # near the gap by meV from those along z.
    e_easy, nocc = bse_bands(calc, wfs.nbands, True, axis)
    e_z, _ = bse_bands(calc, wfs.nbands, True, (0.0, 0.0))
    edges = slice(nocc - 2, nocc + 2)
    assert np.abs(e_easy[:, edges] - e_z[:, edges]).max() > 2e-3
    # GPAW's BSE as asr.bse makes it diagonalises the spinors along the axis.
    made = bse_class(axis)(
        str(wfs.gpw.path),
        ecut=10.0,
        valence_bands=2,
        conduction_bands=2,
        nbands=wfs.nbands,
        add_soc=True,
        txt=None,
    )
    e_bse = made.spinors_data.e_km * Hartree
    n2 = e_bse.shape[1] // 2
    along = soc_eigenstates(calc, n2=n2, theta=theta, phi=phi).eigenvalues()
    along_z = soc_eigenstates(calc, n2=n2).eigenvalues()
    assert e_bse == pytest.approx(along, abs=1e-8)
    assert np.abs(e_bse - along_z)[:, nocc - 2 : nocc + 2].max() > 2e-3
