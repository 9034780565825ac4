import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from nlo_settings import NLO, TINY

from asr.recipes.shg import allowed_components, cartesian_rotations
from asr.recipes.shg import main as shg


def test_components_allowed_by_the_point_group():
    a = 2.51
    layer = Atoms(
        "BN",
        scaled_positions=[[0, 0, 0.5], [1 / 3, 2 / 3, 0.5]],
        cell=[[a, 0, 0], [-a / 2, a * 3**0.5 / 2, 0], [0, 0, 7.0]],
        pbc=[True, True, False],
    )
    assert allowed_components(cartesian_rotations(layer)) == ["xxy", "yxx", "yyy"]
    zincblende = bulk("BN", "zincblende", a=3.62)
    assert allowed_components(cartesian_rotations(zincblende)) == [
        "xyz",
        "yxz",
        "zxy",
    ]
    wurtzite = bulk("ZnO", "wurtzite", a=3.25, c=5.2)
    assert allowed_components(cartesian_rotations(wurtzite)) == [
        "xxz",
        "yyz",
        "zxx",
        "zyy",
        "zzz",
    ]
    assert allowed_components(cartesian_rotations(bulk("Si"))) == []


def test_centrosymmetric_silicon_needs_no_calculation(store):
    result = shg(bulk("Si"), TINY).result  # no GPAW run: forbidden by symmetry
    assert result.zero_by_symmetry and result.components == []
    assert result.max_chi_static == 0.0 and result.chi.shape == (0, 301)


@pytest.mark.gpaw
@pytest.mark.slow
def test_cubic_boron_nitride_shg(bn_nlo_store, tmp_path):
    result = shg(bulk("BN", "zincblende", a=3.62), TINY, **NLO).result
    assert result.components == ["xyz", "yxz", "zxy"]
    assert result.unit == "pm/V" and not result.zero_by_symmetry
    static = result.chi_static
    # Equal by cubic symmetry at convergence; of the order of a few pm/V.
    assert np.all(np.sign(static) == np.sign(static[0]))
    assert 0.5 < result.max_chi_static < 30
    assert np.abs(result.chi[:, -1]).max() > 0
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
