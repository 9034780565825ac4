import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.gs import main as groundstate
from asr.recipes.magnetic_anisotropy import easy_axis
from asr.recipes.magnetic_anisotropy import main as anisotropy
from asr.recipes.magstate import main as magstate

TINY_FE = tiny_pw(1.5, occupations={"name": "fermi-dirac", "width": 0.1}, nbands="150%")


def test_easy_axis_prefers_z_among_equals():
    assert easy_axis({"x": 0.0, "y": 1.0, "z": 2.0}) == "x"
    assert easy_axis({"x": 1.0, "y": 0.5, "z": 2.0}) == "y"
    assert easy_axis({"x": 3.0, "y": 3.0, "z": 3.0 + 1e-9}) == "z"


@pytest.mark.gpaw
def test_bcc_iron_has_tiny_anisotropy(store, tmp_path):
    atoms = bulk("Fe")
    record = anisotropy(atoms, TINY_FE)
    result = record.result
    assert result.is_magnetic and result.note == ""
    assert result.easy_axis in "xyz"
    assert (result.theta, result.phi) in [(90.0, 0.0), (90.0, 90.0), (0.0, 0.0)]
    assert result.energies.shape == (3,) and result.energies.min() == 0.0
    # Cubic: all axes are equal up to μeV; meV-scale differences would be wrong.
    assert abs(result.dE_zx) < 0.01 and abs(result.dE_zy) < 0.01
    assert result.dE_zx == pytest.approx(result.energies[2] - result.energies[0])
    uids = {d.uid for d in record.dependencies}
    assert uids == {magstate(atoms, TINY_FE).uid, groundstate(atoms, TINY_FE).uid}
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.gpaw
def test_non_magnetic_silicon_has_no_anisotropy(store):
    tiny = {**TINY_FE, "kpts": {"size": [2, 2, 2], "gamma": True}}
    result = anisotropy(bulk("Si"), tiny).result
    assert not result.is_magnetic and "not magnetic" in result.note
    assert (result.dE_zx, result.dE_zy, result.easy_axis) == (0.0, 0.0, "z")
    assert np.all(result.energies == 0.0)
