import numpy as np
import pytest
from ase.build import bulk
from emt_alloys import emt_energy, ordered_fcc, write_references

from asr.recipes import get_recipe
from asr.recipes.convex_hull import main as convex_hull
from asr.recipes.fere import main as fere


@pytest.fixture
def references(tmp_path):
    """EMT references of Cu, Au, Ag and some of their fcc orderings."""
    path = tmp_path / "references.db"
    return path, write_references(path)


def test_registry():
    assert get_recipe("asr.convex_hull") is convex_hull
    assert get_recipe("asr.fere") is fere


def test_binary_hull(store, references, tmp_path):
    path, per_atom = references
    cuau = ordered_fcc("Cu2Au2", 3.87)
    energy = emt_energy(cuau)
    result = convex_hull(cuau, energy, [str(path)]).result
    hform = energy / 4 - (per_atom["Cu"] + per_atom["Au"]) / 2
    assert result.hform == pytest.approx(hform)
    # At x(Cu) = 1/2 the hull runs between Au and AuCu3 (x = 3/4):
    hform_cu3au = per_atom["AuCu3"] - (3 * per_atom["Cu"] + per_atom["Au"]) / 4
    assert hform_cu3au < 0
    assert result.ehull == pytest.approx(hform - 2 / 3 * hform_cu3au)
    assert {ref["uid"] for ref in result.decomposition} == {"Au", "AuCu3"}
    assert all(ref["database"] == str(path) for ref in result.references)
    assert {ref["uid"] for ref in result.references} == {"Cu", "Au", "AuCu3", "Au3Cu"}
    on_hull = {ref["uid"] for ref in result.references if ref["on_hull"]}
    assert on_hull == {"Cu", "Au", "AuCu3"}
    assert result.thermodynamic_stability == "high"
    assert set(result.database_keys()) == {"hform", "ehull", "thermodynamic_stability"}
    (figure,) = result.figures(tmp_path / "figures")
    assert figure.name == "convex_hull.png" and figure.stat().st_size > 0
    assert result.webpanel()["figures"] == ["convex_hull.png"]


def test_ternary_and_unary(store, references, tmp_path):
    path, per_atom = references
    alloy = ordered_fcc("CuAuAg2", 3.95)
    result = convex_hull(alloy, emt_energy(alloy), [str(path)]).result
    assert result.elements == ["Ag", "Au", "Cu"]
    assert {ref["uid"] for ref in result.decomposition} == {"Ag2Au2", "Cu", "Ag"}
    assert result.figures(tmp_path)[0].stat().st_size > 0
    # A strained copper crystal lies above the copper reference:
    copper = bulk("Cu", "fcc", a=3.7)
    unary = convex_hull(copper, emt_energy(copper), [str(path)]).result
    assert unary.hform == pytest.approx(unary.ehull)
    assert unary.ehull == pytest.approx(copper.get_potential_energy() - per_atom["Cu"])
    assert unary.figures(tmp_path) == []


def test_convex_hull_errors(store, references, tmp_path):
    path, _ = references
    with pytest.raises(ValueError, match="pure Ni"):
        convex_hull(bulk("Ni"), -1.0, [str(path)])
    with pytest.raises(ValueError, match="no database file"):
        convex_hull(bulk("Cu"), -1.0, [str(tmp_path / "missing.db")])
    with pytest.raises(ValueError, match="list"):
        convex_hull(bulk("Cu"), -1.0, str(path))


def test_fere_recovers_elemental_shifts(store, references, tmp_path):
    path, per_atom = references
    shifts = {"Cu": 0.1, "Au": -0.2}
    # "Experimental" enthalpies made with shifted elemental energies:
    experimental = {}
    for formula, fractions in [("Cu3Au", (0.75, 0.25)), ("CuAu3", (0.25, 0.75))]:
        name = "AuCu3" if formula == "Cu3Au" else "Au3Cu"
        references_energy = sum(
            x * (per_atom[s] + shifts[s]) for s, x in zip(("Cu", "Au"), fractions)
        )
        experimental[formula] = per_atom[name] - references_energy
    result = fere(str(path), experimental).result
    assert result.elements == ["Au", "Cu"]
    for symbol, shift in shifts.items():
        assert result.shifts[symbol] == pytest.approx(shift)
        assert result.fere[symbol] == pytest.approx(per_atom[symbol] + shift)
    assert result.rmse == pytest.approx(0, abs=1e-10)
    assert result.rmse_dft > 0.05
    hexp = [c["hexp"] for c in result.compounds]
    assert np.allclose([c["hfere"] for c in result.compounds], hexp)
    assert result.figures(tmp_path)[0].name == "fere.png"


def test_fere_errors(store, references):
    path, _ = references
    with pytest.raises(ValueError, match="cannot fix"):
        fere(str(path), {"Cu3Au": -0.1})
    with pytest.raises(ValueError, match="no row"):
        fere(str(path), {"NiO": -1.2, "Cu3Au": -0.1})
    with pytest.raises(ValueError, match="dict"):
        fere(str(path), {})
