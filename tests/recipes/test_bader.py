import sys

import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.bader import BaderNotInstalledError
from asr.recipes.bader import main as bader

TINY = tiny_pw([2, 2, 2], ecut=250, convergence={"bands": "occupied"}, nbands=-2)


def test_without_pybader_the_error_says_how_to_install_it(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pybader", None)  # import fails
    monkeypatch.setitem(sys.modules, "pybader.interface", None)
    with pytest.raises(BaderNotInstalledError, match="pip install pybader"):
        bader(bulk("NaCl", "rocksalt", a=5.64), TINY)


@pytest.mark.gpaw
def test_rock_salt_is_ionic(store, tmp_path):
    pytest.importorskip("pybader", reason="pybader is not installed")
    result = bader(bulk("NaCl", "rocksalt", a=5.64), TINY, gridrefinement=2).result
    sodium, chlorine = result.bader_charges
    assert 0.6 < sodium < 1.0  # Bader: about +0.85 e
    assert chlorine == pytest.approx(-sodium, abs=0.01)
    assert result.electrons == pytest.approx(11 + 17, abs=0.01)  # all electrons
    assert result.volumes.sum() == pytest.approx(5.64**3 / 4, rel=1e-3)
    assert result.volumes[1] > result.volumes[0]
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
