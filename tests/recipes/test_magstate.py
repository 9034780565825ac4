import numpy as np
import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.gs import main as groundstate
from asr.recipes.magstate import classify
from asr.recipes.magstate import main as magstate

TINY_FE = tiny_pw(1.5, occupations={"name": "fermi-dirac", "width": 0.1}, nbands="150%")


@pytest.mark.parametrize(
    "magmom, magmoms, state",
    [
        (0.0, [0.0, 0.05], "nm"),
        (2.2, [2.2], "fm"),
        (0.01, [2.0, -2.0], "afm"),
        (1.0, [2.0, -1.0], "fm"),  # ferrimagnet
        (0.0, [], "nm"),
    ],
)
def test_classify(magmom, magmoms, state):
    assert classify(magmom, np.array(magmoms)) == state


@pytest.mark.gpaw
def test_bcc_iron_is_ferromagnetic(store):
    atoms = bulk("Fe")  # ASE gives it an initial moment of 2.3 μB
    record = magstate(atoms, TINY_FE)
    result = record.result
    assert result.magstate == "fm" and result.is_magnetic
    assert result.magmom == pytest.approx(2.2, abs=0.3)
    assert result.magmoms[0] == pytest.approx(2.2, abs=0.3)
    assert result.database_keys()["magstate"] == "fm"
    gs = groundstate(atoms, TINY_FE)
    assert [d.uid for d in record.dependencies] == [gs.uid]
