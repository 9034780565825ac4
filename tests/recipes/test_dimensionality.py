import pytest
from ase.build import bulk, molecule, mx2

from asr.recipes import get_recipe
from asr.recipes.dimensionality import main as dimensionality


def test_registry():
    assert get_recipe("asr.dimensionality") is dimensionality


def test_mos2_monolayer_is_2d(store, tmp_path):
    result = dimensionality(mx2("MoS2", vacuum=7.5)).result
    assert result.dim_primary == "2D"
    assert result.dim_primary_score == pytest.approx(1.0)
    assert result.dim_score_2D == pytest.approx(1.0)
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert result.database_keys()["dim_primary"] == "2D"
    (figure,) = result.figures(tmp_path)
    assert figure.name == "dimensionality.png" and figure.stat().st_size > 0
    assert result.webpanel()["figures"] == ["dimensionality.png"]


def test_layered_bulk_is_2d_but_metal_is_3d(store):
    layered = mx2("MoS2", vacuum=3.0)
    layered.pbc = True
    assert dimensionality(layered).result.dim_primary == "2D"
    copper = dimensionality(bulk("Cu")).result
    assert copper.dim_primary == "3D"
    assert copper.dim_score_3D == pytest.approx(1.0)


def test_molecule_is_0d(store):
    result = dimensionality(molecule("H2O"), method="TSA").result
    assert result.dim_primary == "0D"
    assert result.method == "TSA"


def test_bad_method(store):
    with pytest.raises(ValueError, match="unknown method"):
        dimensionality(bulk("Cu"), method="XYZ")
