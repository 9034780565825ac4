import numpy as np
import pytest
from ase.build import bulk
from nlo_settings import NLO, TINY

from asr.recipes.shift import main as shift


def test_centrosymmetric_silicon_has_no_shift_current(store):
    result = shift(bulk("Si"), TINY).result
    assert result.zero_by_symmetry and result.max_shift == 0.0


@pytest.mark.gpaw
@pytest.mark.slow
def test_cubic_boron_nitride_shift_current(bn_nlo_store, tmp_path):
    result = shift(bulk("BN", "zincblende", a=3.62), TINY, **NLO).result
    assert result.components == ["xyz", "yxz", "zxy"]
    sigma = result.sigma
    w = result.frequencies
    # Nothing below the direct gap (only the Lorentzian tails).
    assert np.abs(sigma[:, w < 3.0]).max() < 0.01 * result.max_shift
    assert 1 < result.max_shift < 1000  # μA/V²
    # Cubic symmetry: the three components agree (within the tiny grid).
    top = np.argmax(np.abs(sigma[0]))
    assert sigma[1:, top] == pytest.approx(sigma[0, top], rel=0.3)
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
