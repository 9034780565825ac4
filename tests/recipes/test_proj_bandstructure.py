import numpy as np
import pytest

from asr.recipes.bandstructure import main as bandstructure
from asr.recipes.proj_bandstructure import main as proj_bandstructure


@pytest.mark.gpaw
@pytest.mark.slow  # the ground state, when run alone
def test_mos2_band_edges_at_k_are_mo_d(shared_store, mos2, tmp_path):
    # The same path as the band-structure test: its Record is reused.
    record = proj_bandstructure(mos2.atoms, calculator=mos2.calculator, npoints=60)
    bs = bandstructure(mos2.atoms, calculator=mos2.calculator, npoints=60)
    assert [d.uid for d in record.dependencies] == [bs.uid]
    result = record.result
    assert result.channels == ["Mo-s", "Mo-p", "Mo-d", "S-s", "S-p"]
    nspins, nk, nbands = result.energies.shape
    assert result.weights.shape == (nspins, nk, nbands, 5)
    assert np.allclose(result.weights.sum(axis=-1), 1.0)
    assert np.all(result.weights >= 0)

    k = int(
        np.argmin(np.linalg.norm(bs.result.bandpath().kpts - [1 / 3, 1 / 3, 0], axis=1))
    )
    nocc = int((result.energies[0, k] < result.efermi).sum())
    for band in (nocc - 1, nocc):  # the VBM and the CBM at K
        weights = dict(zip(result.channels, result.weights[0, k, band], strict=True))
        assert max(weights, key=weights.get) == "Mo-d"
        assert weights["Mo-d"] > 0.5
    (figure,) = result.figures(tmp_path)
    assert figure.name == "proj-bandstructure.png"
