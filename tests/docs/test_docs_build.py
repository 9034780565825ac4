"""The Sphinx site builds without a warning, with a page per recipe.

`sphinx-build -W -n` runs in a fresh process, as `make docs` runs it, so a
broken page, reference or docstring fails the suite. The recipe pages draw
their figures from a real store made here with quick recipes (EMT, no GPAW).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"

pytestmark = pytest.mark.slow


def sphinx(source: Path, out: Path, store: Path | None = None):
    env = {**os.environ, "ASR_DOCS_STORE": str(store or "")}
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-n", "--keep-going"]
        + ["-q", "-E", str(source), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_docs(folder: Path) -> Path:
    """The docs sources in `folder`: a build writes the generated recipe
    pages into its sources, which must not be the repository's."""
    source = folder / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "recipes"))
    return source


def asr(cwd: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "asr.cli.main", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site, with figures from a store of two quick Records."""
    from ase.build import bulk

    store = tmp_path_factory.mktemp("store")
    asr(store, "init")
    bulk("Cu", cubic=True).write(store / "structure.json")
    asr(store, "run", "asr.dimensionality")
    asr(store, "run", "asr.relax --calculator emt")
    out = tmp_path_factory.mktemp("html")
    done = sphinx(copy_docs(tmp_path_factory.mktemp("src")), out, store)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_recipe_has_a_page(site):
    from asr.core import load_all

    recipes = load_all()
    index = (site / "recipes" / "index.html").read_text()
    for name in recipes:
        page = site / "recipes" / f"{name}.html"
        assert page.is_file(), name
        assert f'href="{name}.html"' in index
    relax = (site / "recipes" / "asr.relax.html").read_text()
    assert "eV/Å" in relax and "--fmax" in relax  # a parameter with its unit
    assert "max_forces" in relax  # a Result key


def test_figures_come_from_the_store(site):
    relax = (site / "recipes" / "asr.relax.html").read_text()
    assert '<img alt="asr.relax: relax"' in relax
    assert (site / "_images" / "relax.png").is_file()
    gs = (site / "recipes" / "asr.gs.html").read_text()
    assert "<img" not in gs  # no Record of asr.gs in that store


def test_command_reference_lists_lazy_subcommands(site):
    """sphinx-click reads a group's loaded commands: the lazy ones of a group
    that also has an eager one (`asr cache reindex`) were left out."""
    cli = (site / "cli.html").read_text()
    for command in ("cache-ls", "cache-rm", "cache-migrate", "cache-reindex", "run"):
        assert f'id="asr-{command}"' in cli, command


def test_api_reference_documents_the_public_objects(site):
    api = (site / "api.html").read_text()
    for name in (
        "asr.core.Record",
        "asr.core.cache.select",
        "asr.core.migration.Migration",
        "asr.store.open_store",
        "asr.database.fromtree",
        "asr.workflow.run",
        "asr.webapp.create_app",
    ):
        assert f'id="{name}"' in api, name


def test_a_broken_reference_fails_the_build(tmp_path):
    source = copy_docs(tmp_path)
    page = source / "cli.md"
    page.write_text(page.read_text() + "\nSee {py:func}`asr.core.no_such_thing`.\n")
    done = sphinx(source, tmp_path / "html")
    assert done.returncode != 0
    assert "no_such_thing" in done.stderr
