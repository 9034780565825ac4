import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.core import Record
from asr.recipes.formalpolarization import (
    TIGHT_CONVERGENCE,
    nonperiodic_measure,
    polarization_from_phases,
    tightened,
)
from asr.recipes.formalpolarization import main as formalpolarization

TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)
BERRY = {"size": [2, 2, 2], "gamma": False}


def test_polarization_quantum_from_a_phase_of_two_pi():
    cubic = Atoms(cell=np.diag([2.0, 3.0, 4.0]), pbc=True)
    polarization = polarization_from_phases(np.array([2 * np.pi, 0, 0]), cubic)
    assert polarization == pytest.approx([2.0 / 24.0, 0, 0])  # e R / V
    layer = Atoms(cell=np.diag([2.0, 3.0, 10.0]), pbc=[True, True, False])
    assert nonperiodic_measure(layer) == pytest.approx(10.0)
    assert polarization_from_phases(
        np.array([0, 2 * np.pi, 0]), layer
    ) == pytest.approx([0, 3.0 / 6.0, 0])  # e R / A for a sheet


@pytest.mark.gpaw
def test_centrosymmetric_silicon_has_no_polarization(store):
    record = formalpolarization(bulk("Si"), TINY, BERRY)
    result = record.result
    # Inversion symmetry: P = 0 modulo half a polarization quantum.
    halves = result.phase_c / np.pi
    assert halves == pytest.approx(np.round(halves), abs=1e-4)
    assert result.atomic_phase_c == pytest.approx(
        2 * np.pi * 4 * bulk("Si").get_scaled_positions().sum(axis=0)
    )
    assert result.polarization.shape == (3,)
    # Tight SCF convergence, as the C2DB: recorded and used by GPAW.
    assert record.arguments["convergence"] == TIGHT_CONVERGENCE
    assert tightened({"convergence": {"density": 1e-9}}, TIGHT_CONVERGENCE) == {
        "convergence": {"density": 1e-9, "eigenstates": 1e-11}
    }
    (dependency,) = [
        Record.from_stored(store.head(d.uid))
        for d in record.dependencies
        if Record.from_stored(store.head(d.uid)).name == "asr.wavefunctions"
    ]
    from gpaw import GPAW

    calc = GPAW(dependency.result.gpw.path, txt=None)
    assert calc.parameters.convergence["eigenstates"] == 1e-11
    spec = dependency.arguments["calculator"]
    assert spec["convergence"] == {"bands": "occupied", **TIGHT_CONVERGENCE}


@pytest.mark.gpaw
def test_a_metal_has_no_polarization(store):
    aluminium = {**TINY, "kpts": {"size": [6, 6, 6], "gamma": True}}
    with pytest.raises(ValueError, match="metal|filled"):
        formalpolarization(bulk("Al"), aluminium, BERRY)
