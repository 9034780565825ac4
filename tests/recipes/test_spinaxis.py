import pytest
from gpaw_settings import lcao
from magnets import iron_dimer

from asr.recipes.gs import main as groundstate
from asr.recipes.gs import soc_band_edges
from asr.recipes.magnetic_anisotropy import main as anisotropy
from asr.recipes.spinaxis import spin_axis


@pytest.mark.gpaw
def test_spin_orbit_gaps_of_a_magnet_have_spins_along_its_easy_axis(store):
    from gpaw import GPAW

    atoms = iron_dimer()
    spec = {k: v for k, v in lcao([1, 1, 1]).items() if k != "kpts"}
    gs = groundstate(atoms, spec).result
    axis = anisotropy(atoms, spec).result
    assert axis.easy_axis in ("x", "y") and axis.theta == 90.0
    assert spin_axis(atoms, spec) == (axis.theta, axis.phi)
    calc = GPAW(gs.gpw.path, txt=None)
    easy, efermi = soc_band_edges(calc, axis.theta, axis.phi)
    along_z, _ = soc_band_edges(calc, 0.0, 0.0)
    assert gs.gap_soc == pytest.approx(easy.gap, abs=1e-8)
    assert gs.efermi_soc == pytest.approx(efermi, abs=1e-8)
    assert abs(along_z.gap - easy.gap) > 0.005  # ~20 meV: spins along the bond
