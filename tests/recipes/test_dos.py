import numpy as np
import pytest

from asr.recipes.dos import main as dos
from asr.recipes.magnetic_anisotropy import main as anisotropy
from asr.recipes.pdos import main as pdos

# MoS2 has 14 electrons within 10 eV below its Fermi level (Mo 4d and 5s,
# S 3p); the deeper Mo 4s, 4p and S 3s states lie below the window.
VALENCE_IN_WINDOW = 14


def electrons_below_ef(energies, dos):
    occupied = energies <= 0
    return np.trapezoid(dos[occupied], energies[occupied])


@pytest.mark.gpaw
@pytest.mark.slow
def test_mos2_dos_and_orbital_projections(shared_store, mos2, tmp_path):
    record = dos(mos2.atoms, calculator=mos2.calculator, kptdensity=4.0)
    result = record.result
    assert result.kpts_size == [12, 12, 1]  # a multiple of 3: K is on the grid
    e = result.energies
    assert result.dos.shape == (1, len(e)) and result.dos_soc.shape == (len(e),)
    # A semiconductor: nothing in the gap around the Fermi level.
    assert result.dos_at_ef_nosoc == 0 and result.dos_at_ef_soc == 0
    assert np.all(result.dos[0][np.abs(e) < 0.5] == 0)
    # Counting the states: spin-degenerate bands hold two electrons each,
    # spin-orbit bands one. (ASE's tetrahedron integration loses ~1 % of the
    # states on this coarse 2D grid; Gaussians count 14.000.)
    below = electrons_below_ef(e, result.dos[0])
    assert below == pytest.approx(VALENCE_IN_WINDOW, rel=0.02)
    assert electrons_below_ef(e, result.dos_soc) == pytest.approx(below, rel=0.01)

    projected = pdos(mos2.atoms, calculator=mos2.calculator, kptdensity=4.0)
    axis = anisotropy(mos2.atoms, mos2.calculator)  # the spin direction of SOC
    assert [d.uid for d in projected.dependencies] == [record.uid, axis.uid]
    p = projected.result
    assert p.channels == ["Mo-s", "Mo-p", "Mo-d", "S-s", "S-p"]
    assert p.pdos.shape == (1, 5, len(e)) and p.pdos_soc.shape == (5, len(e))
    # Where there are no states there are no projections.
    assert np.all(p.pdos_soc >= -1e-9)
    assert np.all(p.pdos_soc[:, result.dos_soc == 0] == 0)
    # The top of the valence band is Mo d.
    top = e[(result.dos_soc > 0) & (e < 0)].max()
    edge = (e > top - 0.3) & (e <= top)
    channel = dict(zip(p.channels, p.pdos_soc[:, edge].sum(axis=1), strict=True))
    assert max(channel, key=channel.get) == "Mo-d"
    assert channel["Mo-d"] > 2 * channel["S-p"]

    for figure in result.figures(tmp_path) + p.figures(tmp_path):
        assert figure.read_bytes().startswith(b"\x89PNG")


def test_negative_width_is_refused(store, mos2):
    with pytest.raises(ValueError, match="width"):
        dos(mos2.atoms, calculator=mos2.calculator, width=-0.1)
