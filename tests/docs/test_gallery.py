"""Every recipe whose Result draws figures gets one on its page.

`make docs` draws them from Records that `make demo` (IN_DEMO) and
examples/gallery.py (CASES) make; a recipe neither covers must say why it
is not built (NOT_BUILT). These tests read the lists, they run nothing:
the gallery itself takes minutes and belongs to `make docs`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import asr_recipes  # noqa: E402


@pytest.fixture(scope="module")
def gallery():
    return asr_recipes.load_gallery()


@pytest.fixture(scope="module")
def with_figures() -> set[str]:
    from asr.core import load_all

    return {n for n, instr in load_all().items() if asr_recipes.draws_figures(instr)}


def test_every_recipe_with_figures_is_demo_gallery_or_explained(gallery, with_figures):
    covered = set(gallery.IN_DEMO) | set(gallery.CASES) | set(gallery.NOT_BUILT)
    forgotten = sorted(with_figures - covered)
    assert not forgotten, (
        f"{forgotten} draw figures but neither the demo nor examples/gallery.py "
        "runs them: add a Case, or a reason to NOT_BUILT"
    )


def test_the_lists_name_recipes_with_figures_once(gallery, with_figures):
    lists = [set(gallery.IN_DEMO), set(gallery.CASES), set(gallery.NOT_BUILT)]
    for i, one in enumerate(lists):
        assert one <= with_figures, one - with_figures  # no stale names
        for other in lists[i + 1 :]:
            assert not one & other, one & other
    for name, case in gallery.CASES.items():
        assert case.recipe == name and case.material
    assert all(reason.strip() for reason in gallery.NOT_BUILT.values())


def test_the_demo_runs_what_in_demo_says(gallery):
    """IN_DEMO names recipes of the workflow `make demo` runs."""
    workflow = (ROOT / "examples" / "workflow.py").read_text()
    # Named is not yet run by the tiny profile: examples/gallery.py also
    # checks, when it runs, that the store holds a Record of each.
    named = set(re.findall(r'"(asr\.[a-z_.]+)"', workflow))
    missing = sorted(set(gallery.IN_DEMO) - named)
    assert not missing, f"{missing}: examples/workflow.py does not run them"


def test_a_recipe_without_a_figure_says_why(tmp_path, with_figures):
    name = sorted(with_figures)[0]
    reason = "it needs a 40-atom supercell: an hour or more."
    note = asr_recipes.missing_figure(name, {name: reason})
    assert note.startswith("\n## Figures") and reason in note
    assert "examples/gallery.py" in asr_recipes.missing_figure(name, {})

    asr_recipes.generate(tmp_path, None)  # no store: every one has a note
    for recipe in with_figures:
        page = (tmp_path / "recipes" / f"{recipe}.md").read_text()
        assert "## Figures" in page and "draws figures" in page, recipe
    assert "## Figures" not in (tmp_path / "recipes" / "asr.magstate.md").read_text()
