import pytest
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.wavefunctions import kpts_argument, resolve_nbands
from asr.recipes.wavefunctions import main as wavefunctions

TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)


def test_nbands_follow_gpaw():
    assert resolve_nbands(None, 8.0, default=10) == 10
    assert resolve_nbands(12, 8.0, default=10) == 12
    assert resolve_nbands(-3, 8.0, default=10) == 7  # 4 occupied + 3
    assert resolve_nbands(0, 7.0, default=10) == 4  # odd electrons: 4 bands hold them
    assert resolve_nbands("200%", 8.0, default=10) == 8
    with pytest.raises(ValueError, match="percentage"):
        resolve_nbands("many", 8.0, default=10)


def test_kpts_density_becomes_a_grid():
    si = bulk("Si")
    assert kpts_argument(si, None) is None
    assert kpts_argument(si, {"size": [3, 3, 3]}) == {"size": [3, 3, 3]}
    grid = kpts_argument(si, {"density": 2.0, "gamma": False})
    assert grid["gamma"] is False and len(grid["size"]) == 3


@pytest.mark.gpaw
def test_silicon_wave_functions_without_symmetry(store):
    from gpaw import GPAW

    record = wavefunctions(
        bulk("Si"), TINY, kpts={"size": [3, 3, 3]}, nbands=-4, symmetry=False
    )
    wfs = record.result
    assert wfs.nocc == 4 and wfs.nbands == 8 and wfs.nbands_total > 8
    assert wfs.kpts_size == [3, 3, 3] and wfs.nibzkpts == 27
    calc = GPAW(wfs.gpw.path, txt=None)
    assert calc.get_number_of_bands() == wfs.nbands_total
    assert calc.get_pseudo_wave_function(band=0, kpt=1).any()  # stored
    assert [d.uid for d in record.dependencies]  # built on asr.gs


@pytest.mark.gpaw
def test_full_diagonalization_gives_exact_bands(store):
    wfs = wavefunctions(bulk("Si"), TINY, nbands=30, diagonalize=True).result
    assert wfs.nbands == wfs.nbands_total == 30
