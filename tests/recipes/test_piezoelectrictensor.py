import numpy as np
import pytest
from ase import Atoms
from gpaw_settings import tiny_pw

from asr.recipes.piezoelectrictensor import main as piezoelectrictensor
from asr.recipes.piezoelectrictensor import tensor_from_phases, voigt

TINY = tiny_pw([3, 3, 1], convergence={"bands": "occupied"}, nbands=-2)


def boron_nitride_layer(a=2.51, height=7.0):
    return Atoms(
        "BN",
        scaled_positions=[[0, 0, 0.5], [1 / 3, 2 / 3, 0.5]],
        cell=[[a, 0, 0], [-a / 2, a * 3**0.5 / 2, 0], [0, 0, height]],
        pbc=[True, True, False],
    )


def test_tensor_from_phases_ignores_jumps_of_two_pi():
    cubic = Atoms(cell=np.diag([2.0, 2.0, 2.0]), pbc=True)
    phases = np.zeros((6, 2, 3))
    phases[3] = [[0.1, 0, 0], [-0.1 + 2 * np.pi, 0, 0]]  # yz strain moves P_x
    tensor = tensor_from_phases(phases, cubic, (0, 1, 2, 3, 4, 5), 0.01)
    expected = -0.2 * 2.0 / (2 * np.pi * 8.0) / 0.02
    assert tensor[0, 1, 2] == pytest.approx(expected)
    assert tensor[0, 2, 1] == pytest.approx(expected)
    assert np.count_nonzero(np.abs(tensor) > 1e-12) == 2
    assert voigt(tensor, (0, 1, 2, 3, 4, 5))[0, 3] == pytest.approx(expected)


@pytest.mark.gpaw
@pytest.mark.slow
def test_boron_nitride_layer_clamped_ion_piezoelectricity(store, tmp_path):
    result = piezoelectrictensor(
        boron_nitride_layer(),
        TINY,
        kpts={"size": [3, 3, 1], "gamma": False},
        relax_positions=False,
        convergence={},  # GPAW's tolerances: the tight default costs ~30 s
    ).result
    e = result.eps_clamped_vvv
    assert result.eps_vvv is None and result.components == ["xx", "yy", "xy"]
    # D3h with the B-N bond along y: e_yyy = -e_yxx = -e_xxy, the rest 0.
    e_yyy = e[1, 1, 1]
    assert 0.08 < abs(e_yyy) < 0.4  # e/Å (about 3e-10 C/m)
    assert e[1, 0, 0] == pytest.approx(-e_yyy, rel=0.25)
    assert e[0, 0, 1] == pytest.approx(-e_yyy, rel=0.25)
    assert e[0, 0, 0] == pytest.approx(0, abs=0.2 * abs(e_yyy))
    assert e[2] == pytest.approx(0, abs=1e-6)
    assert result.max_piezo == pytest.approx(np.abs(e).max())
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
