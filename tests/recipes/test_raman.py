import numpy as np
import pytest
from ase.build import bulk

from asr.recipes.raman import check_lcao
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


def test_only_lcao_is_implemented():
    check_lcao(LCAO)
    with pytest.raises(ValueError, match="LCAO"):
        check_lcao({"name": "gpaw", "mode": {"name": "pw", "ecut": 300}})
    with pytest.raises(ValueError, match="LCAO"):
        check_lcao({"name": "emt"})


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
    assert list(tmp_path.glob("raman-*"))  # GPAW's files, for a restart
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
