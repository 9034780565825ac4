import numpy as np
import pytest

from asr.recipes.deformationpotentials import main as deformationpotentials


@pytest.mark.gpaw
@pytest.mark.slow
def test_mos2_gap_shrinks_under_tensile_strain(shared_store, mos2, tmp_path):
    result = deformationpotentials(
        mos2.atoms,
        calculator=mos2.calculator,
        components=("xx",),
        relax_positions=False,
    ).result
    assert result.components == ["xx"] and result.edges_soc.shape == (1, 3, 2)
    vbm, cbm = result.deformation_potentials_soc[0]
    assert (result.dp_vbm_xx, result.dp_cbm_xx) == (vbm, cbm)
    assert result.dp_vbm_yy is None
    # Uniaxial strain closes the K-K gap of MoS2 by ~45-50 meV per %
    # (clamped ions: about -5 eV per unit strain), mostly through the CBM.
    assert -8.0 < cbm - vbm < -3.0
    assert abs(cbm) > abs(vbm)
    # The CBM falls steadily from -1 % through 0 to +1 %.
    assert np.all(np.diff(result.edges_soc[0, :, 1]) < 0)
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_bulk_is_refused(store, si):
    with pytest.raises(ValueError, match="2D"):
        deformationpotentials(si.atoms, calculator=si.calculator)


def test_unknown_components_are_refused(store, mos2):
    with pytest.raises(ValueError, match="components"):
        deformationpotentials(
            mos2.atoms, calculator=mos2.calculator, components=("zz",)
        )
