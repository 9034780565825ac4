import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.borncharges import main as borncharges

TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)
BERRY = {"size": [2, 2, 2], "gamma": False}


def cubic_bn():
    return bulk("BN", "zincblende", a=3.62)


@pytest.fixture
def bn_store(tmp_path_factory):
    """One store for the cubic BN tests of this session: the displaced
    structures' ground states are computed once."""
    from asr.core import use_store
    from asr.store import init_store

    store = init_store(tmp_path_factory.getbasetemp() / "asr-cubic-bn")
    with use_store(store):
        yield store


@pytest.mark.gpaw
@pytest.mark.slow
def test_cubic_boron_nitride_born_charges(bn_store, tmp_path):
    # GPAW's own SCF tolerances (no tightening, {}): the tight default of
    # asr.formalpolarization is tested there, and costs ~30 s here.
    record = borncharges(cubic_bn(), TINY, BERRY, convergence={})
    result = record.result
    z_b, z_n = result.Z_avv
    # Cubic site symmetry: isotropic tensors; boron gives, nitrogen takes
    # (about ±1.9 e converged; the tiny grids give less).
    assert z_b == pytest.approx(z_b[0, 0] * np.eye(3), abs=0.05)
    assert 1.2 < z_b[0, 0] < 2.3
    assert z_n == pytest.approx(-z_b, abs=1e-9)  # sum rule imposed
    assert result.sum_rule_violation < 0.05
    assert result.symbols == ["B", "N"] and result.displacement == 0.01
    assert len(record.dependencies) == 1 + 12  # displacements + polarizations
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
