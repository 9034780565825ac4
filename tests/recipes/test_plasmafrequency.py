import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.units import Bohr, Ha
from gpaw_settings import tiny_pw

from asr.recipes.plasmafrequency import frequencies
from asr.recipes.plasmafrequency import main as plasmafrequency

SODIUM_PW = tiny_pw([6, 6, 6], ecut=250)


def test_2d_sheet_plasma_frequency_of_free_electrons():
    # A sheet of n electrons per area in a cell of height L: the cell's
    # plasma frequency is ω_p² = 4π n / L (atomic units), and the 2D plasmon
    # ω(q)² = 2π n q, so ω₂D = (2π n)^½.
    height, n = 20.0, 0.01  # Å, electrons per Å²
    wp2 = 4 * np.pi * (n * Bohr**2) / (height / Bohr)  # Hartree²
    sheet = Atoms(cell=[3, 3, height], pbc=[True, True, False])
    x, y = frequencies(np.diag([wp2, wp2, 0.0]), sheet)
    expected = np.sqrt(2 * np.pi * n * Bohr**2) * Ha * Bohr**0.5  # eV Å^½
    assert x == y == pytest.approx(expected)


@pytest.mark.gpaw
def test_sodium_drude_plasma_frequency(store):
    result = plasmafrequency(
        bulk("Na", "bcc", a=4.23), calculator=SODIUM_PW, kptdensity=4.0
    ).result
    # 5.71 eV (J. Phys. Chem. C 113, 6200 (2009), as in GPAW's own test);
    # the free-electron value of this density is 5.9 eV.
    assert result.unit == "eV"
    assert result.plasmafrequency_x == pytest.approx(5.71, abs=0.3)
    assert result.plasmafrequency_x == pytest.approx(result.plasmafrequency_z)
    assert result.plasmafrequency_vv[0, 0] == pytest.approx(result.plasmafrequency_x**2)


@pytest.mark.gpaw
def test_a_semiconductor_has_no_intraband_plasma_frequency(shared_store, si):
    record = plasmafrequency(si.atoms, calculator=si.calculator)
    assert record.result.plasmafrequency_x == 0.0
    assert len(record.dependencies) == 1  # only asr.gs: no response calculation
