import numpy as np
import pytest
from ase.build import bulk
from ase.phasediagram import PhaseDiagram
from emt_alloys import emt_energy, ordered_fcc, write_references

from asr.recipes import get_recipe
from asr.recipes.chc import main as chc


@pytest.fixture
def references(tmp_path):
    """EMT energies per atom of Cu, Au, Ag and fcc orderings, in a database."""
    path = tmp_path / "references.db"
    return str(path), write_references(path, [ordered_fcc("AgCu3", 3.7)])


def test_registry():
    assert get_recipe("asr.chc") is chc


def test_copper_exposed_to_gold(store, references, tmp_path):
    path, e = references
    copper = bulk("Cu", "fcc", a=3.6)
    result = chc(copper, emt_energy(copper), [path], reactant="Au").result
    assert result.hform == pytest.approx(0) and result.ehull == pytest.approx(0)
    # The binary Cu-Au hull: Cu, AuCu3 (x(Au) = 1/4), Au; Au3Cu lies above it.
    hform_cu3au = e["AuCu3"] - (3 * e["Cu"] + e["Au"]) / 4
    assert [p["x"] for p in result.cut] == pytest.approx([0, 0.25, 1])
    assert result.cut[1]["hform"] == pytest.approx(hform_cu3au)
    assert result.cut[1]["decomposition"] == [
        {"formula": "AuCu3", "fraction": pytest.approx(1)}
    ]
    # Cu + 1/3 Au -> 1/3 AuCu3 releases 4 hform per Au atom.
    assert result.dmu_reactant == pytest.approx(4 * hform_cu3au)
    assert result.reaction == "Cu + 0.333 Au → 0.333 AuCu3"
    assert result.database_keys() == {"dmu_reactant": result.dmu_reactant}
    (figure,) = result.figures(tmp_path / "figures")
    assert figure.name == "chc.png" and figure.stat().st_size > 0


def test_ternary_cut_is_the_hull_along_the_line(store, references):
    path, _ = references
    cu3au = ordered_fcc("AuCu3", 3.75)
    result = chc(cu3au, emt_energy(cu3au), [path], reactant="Ag").result
    assert result.ehull == pytest.approx(0)
    # The same hull, made by ASE's PhaseDiagram on a fine grid of the line:
    diagram = PhaseDiagram(
        [(r["formula"], r["hform"] * r["natoms"]) for r in result.references],
        verbose=False,
    )
    grid = np.linspace(0, 1, 401)
    line = [{"Cu": 0.75 * (1 - x), "Au": 0.25 * (1 - x), "Ag": x} for x in grid]
    hull = [diagram.decompose(**c)[0] for c in line]
    cut_x = [p["x"] for p in result.cut]
    cut_h = [p["hform"] for p in result.cut]
    assert np.interp(grid, cut_x, cut_h) == pytest.approx(hull, abs=1e-9)
    assert len(result.cut) > 2  # it bends on the way to Ag
    # Δμ is the lowest reaction energy per Ag atom anywhere along the line.
    reaction = (np.array(hull[1:]) - (1 - grid[1:]) * result.hform) / grid[1:]
    assert result.dmu_reactant <= reaction.min() + 1e-9
    assert result.dmu_reactant == pytest.approx(reaction.min(), abs=1e-3)


def test_ehull_is_that_of_the_convex_hull(store, references):
    from asr.recipes.convex_hull import main as convex_hull

    path, _ = references
    cuau = ordered_fcc("Cu2Au2", 3.87)
    energy = emt_energy(cuau)
    result = chc(cuau, energy, [path], reactant="Ag").result
    assert result.ehull > 0
    assert result.ehull == pytest.approx(convex_hull(cuau, energy, [path]).result.ehull)


def test_chc_errors(store, references):
    path, _ = references
    copper = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(ValueError, match="in the material already"):
        chc(copper, -1.0, [path], reactant="Cu")
    with pytest.raises(ValueError, match="chemical element"):
        chc(copper, -1.0, [path], reactant="Xx")
    with pytest.raises(ValueError, match="pure O"):
        chc(copper, -1.0, [path])
    with pytest.raises(ValueError, match="list"):
        chc(copper, -1.0, path, reactant="Au")
