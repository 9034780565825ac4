import numpy as np
import pytest
from ase.build import bulk

from asr.recipes.raman import (
    MIGRATIONS,
    bose_weighted,
    check_lcao,
    gpaw_parameters,
    stokes_spectrum,
)
from asr.recipes.raman import main as raman

LCAO = {
    "name": "gpaw",
    "mode": "lcao",
    "basis": "sz(dzp)",
    "h": 0.3,
    "xc": "PBE",
    "kpts": {"size": [2, 2, 2], "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.02},
    "txt": None,
}


def stokes_weight(omega: float, temperature: float = 300.0) -> float:
    """(n + 1)/ħω of a mode of `omega` cm⁻¹, in 1/eV."""
    from ase.units import invcm, kB

    energy = omega * invcm
    return (1 / np.expm1(energy / (kB * temperature)) + 1) / energy


def test_only_lcao_is_implemented():
    check_lcao(LCAO)
    with pytest.raises(ValueError, match="LCAO"):
        check_lcao({"name": "gpaw", "mode": {"name": "pw", "ecut": 300}})
    with pytest.raises(ValueError, match="LCAO"):
        check_lcao({"name": "emt"})


def test_a_layer_gets_the_dipole_correction_of_gs():
    from ase.build import mx2

    from asr.core import Record

    layer = mx2("MoS2", vacuum=4.0)
    assert gpaw_parameters(layer, LCAO)["poissonsolver"] == {"dipolelayer": "xy"}
    assert gpaw_parameters(layer.repeat((2, 2, 1)), LCAO)["poissonsolver"]
    assert "poissonsolver" not in gpaw_parameters(bulk("Si"), LCAO)
    # Old spectra of layers (without it) are recomputed, not migrated.
    (selector,) = [m.selector for m in MIGRATIONS]
    assert selector(Record("asr.raman", 0, {"atoms": bulk("Si")}, None))
    assert not selector(Record("asr.raman", 0, {"atoms": layer}, None))


def test_temperature_weights_the_stokes_lines_by_their_occupation():
    from ase.units import invcm, kB

    shifts = np.arange(0.0, 1200.0, 0.5)
    modes = np.array([0.0, 100.0, 1000.0])  # an acoustic mode is left out
    weights = np.ones(3)

    def areas(temperature):
        spectrum = stokes_spectrum(shifts, modes, weights, temperature, sigma=5.0)
        low, high = spectrum[shifts < 550].sum(), spectrum[shifts >= 550].sum()
        return low * 0.5, high * 0.5

    def expected(omega, temperature):
        n = 1 / np.expm1(omega * invcm / (kB * temperature)) if temperature else 0
        return (n + 1) / (omega * invcm)

    for temperature in (0.0, 300.0, 1000.0):
        low, high = areas(temperature)
        assert low == pytest.approx(expected(100.0, temperature), rel=1e-3)
        assert high == pytest.approx(expected(1000.0, temperature), rel=1e-3)
    # Warmer: the soft mode's line grows the most (n ≈ kT/ħω).
    assert areas(1000.0)[0] / areas(300.0)[0] > 2.5
    assert areas(1000.0)[1] / areas(300.0)[1] < 1.5
    with pytest.raises(ValueError, match="temperature"):
        stokes_spectrum(shifts, modes, weights, -1.0, 5.0)


@pytest.mark.gpaw
@pytest.mark.slow
def test_diamond_has_one_raman_line(store, tmp_path):
    result = raman(
        bulk("C", "diamond", a=3.567), LCAO, supercell=(1, 1, 1), laser_energy=5.0
    ).result
    acoustic, optical = result.mode_energies[:3], result.mode_energies[3:]
    assert np.abs(acoustic).max() < 5.0  # cm⁻¹
    assert optical == pytest.approx(optical[0], rel=0.01)  # triply degenerate
    # 1332 cm⁻¹ measured; a single-zeta basis on a coarse grid in the unit
    # cell makes the bonds too stiff.
    assert 1250 < optical[0] < 1800
    assert result.mode_intensities[:3] == pytest.approx(0)  # acoustic: silent
    assert result.mode_intensities[3:].sum() > 0
    assert result.strongest_mode == pytest.approx(optical[0], rel=0.01)
    peak = result.shifts[np.argmax(result.intensity_total)]
    assert peak == pytest.approx(optical[0], abs=10)
    assert result.temperature == 300.0
    optical_weight = result.mode_intensities[3:].sum() * stokes_weight(optical[0])
    assert result.intensity_total.sum() * (result.shifts[1] - result.shifts[0]) == (
        pytest.approx(optical_weight, rel=0.01)
    )
    # A version 0 Record (bare |R|² lines, no temperature) migrates.
    from dataclasses import asdict

    from asr.core import Record
    from asr.store import Tagged

    data = asdict(result)
    data.pop("temperature")
    old = Record("asr.raman", 0, {"temperature": 300.0}, Tagged("raman", data))
    migrated = bose_weighted(old)
    assert migrated.version == 1
    assert migrated.result.intensity_total == pytest.approx(result.intensity_total)
    assert list(tmp_path.glob("raman-*"))  # GPAW's files, for a restart
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
