"""docs/plugins.md, done as a user would: a package of one's own recipes,
built and installed with pip, seen by every part of ASR in fresh processes.

The package's files are the tutorial's own code blocks, so the page cannot
rot without this test failing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r"<!-- file: (\S+?)(?:, (.+?))? -->\n```\w*\n(.*?)```", re.S)

pytestmark = pytest.mark.slow


def tutorial_files(variant: str | None = None) -> dict[str, str]:
    """The package's files as the tutorial shows them (a later variant of a
    file replaces the first)."""
    files: dict[str, str] = {}
    for path, shown_as, text in BLOCK.findall(DOC.read_text()):
        if not shown_as or shown_as == variant:
            files[path] = text
    return files


def pip_install(package: Path, site: Path) -> None:
    """`pip install` the package (no network: no build isolation, no deps)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
        + ["--no-build-isolation", "--upgrade", "--target", str(site), str(package)],
        check=True,
        capture_output=True,
    )


def write_package(root: Path, variant: str | None = None) -> None:
    for name, text in tutorial_files(variant).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The environment of a shell where `mypkg` is installed."""
    site = tmp_path / "site"
    write_package(tmp_path / "mypkg")
    pip_install(tmp_path / "mypkg", site)
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}


def asr(env, cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """`asr ARGS` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def python(env, cwd: Path, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_tutorial_shows_a_whole_package():
    files = tutorial_files()
    assert set(files) == {
        "pyproject.toml",
        "src/mypkg/__init__.py",
        "src/mypkg/recipes.py",
    }
    assert 'mypkg = "mypkg.recipes"' in files["pyproject.toml"]
    assert "version=1" in tutorial_files("version 1")["src/mypkg/recipes.py"]


def test_own_recipe_everywhere(env, tmp_path):
    listed = asr(env, tmp_path, "list").stdout
    assert "mypkg.eos" in listed and "asr.gs" in listed
    assert re.search(r"mypkg\.eos\s+│\s+0\s+│\s+mypkg\s+│", listed), listed

    cu = tmp_path / "cu"
    cu.mkdir()
    asr(env, cu, "init")
    python(env, cu, "from ase.build import bulk; bulk('Cu').write('structure.json')")
    ran = asr(env, cu, "run", "mypkg.eos --atoms structure.json").stdout
    assert "Computed" in ran and "Bulk modulus" in ran
    # A user's bad input is one line, not a traceback.
    bad = asr(env, cu, "run", "mypkg.eos --points 3", ok=False).stderr
    assert "at least 5 volumes" in bad and "Traceback" not in bad
    helped = asr(env, cu, "run", "mypkg.eos", "--help").stdout
    assert "--strain" in helped or "strain" in helped
    assert "Bulk modulus" in helped and "GPa" in helped

    (record,) = json.loads(asr(env, cu, "cache", "ls", "--format", "json").stdout)
    uid = record["uid"]
    shown = asr(env, cu, "show", uid[:8]).stdout
    assert "Tagged" not in shown
    assert "Bulk modulus" in shown and "GPa" in shown and "Å³" in shown

    results = asr(env, cu, "results", "mypkg.eos").stdout
    assert "Equilibrium volume per atom" in results and "eos.png" in results
    assert (cu / "figures" / "eos.png").stat().st_size > 1000

    html = python(
        env,
        cu,
        "from asr.core.cache import all_records\n"
        "print(next(iter(all_records(__import__('asr.store').store.open_store('.'))))"
        "._repr_html_())",
    )
    assert "Bulk modulus" in html and "Tagged" not in html

    # Version 1 and its migration: installed as a user would upgrade.
    write_package(tmp_path / "mypkg", "version 1")
    pip_install(tmp_path / "mypkg", Path(env["PYTHONPATH"].split(os.pathsep)[0]))
    planned = asr(env, cu, "cache", "migrate").stdout
    assert "Add the minimum energy" in planned
    asr(env, cu, "cache", "migrate", "--apply")
    assert "Nothing to migrate" in asr(env, cu, "cache", "migrate").stdout
    assert "Minimum energy per atom" in asr(env, cu, "show", uid).stdout
    again = asr(env, cu, "run", "mypkg.eos --atoms structure.json").stdout
    assert "Found in the store" in again

    asr(env, tmp_path, "database", "fromtree", "cu", "--out", "project.db")
    row = python(
        env,
        tmp_path,
        "import ase.db; row = ase.db.connect('project.db').get(id=1)\n"
        "print(row.bulk_modulus, row.emin, row.volume)",
    )
    modulus, emin, volume = map(float, row.split())
    assert 100 < modulus < 200 and emin < 0.1 and 11 < volume < 13  # EMT copper
    page = python(
        env,
        tmp_path,
        "from asr.webapp import create_app\n"
        "client = create_app('project.db').test_client()\n"
        "print(client.get('/material/1').get_data(as_text=True))",
    )
    assert "Equation of state" in page and "Bulk modulus" in page


def test_a_result_of_an_unregistered_module_is_never_imported(env, tmp_path):
    """Reading a store runs no code chosen by the data: a tag naming a module
    no plugin registers stays Tagged, and that module is not imported."""
    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / "sneaky.py").write_text(
        "import pathlib\npathlib.Path('imported').write_text('yes')\n"
    )
    code = (
        "import asr.core\n"
        "from asr.store import Tagged, decode, encode\n"
        "value = decode(encode(Tagged('result:sneaky.Thing', {'a': 1})))\n"
        "print(type(value).__name__)\n"
        "value = decode(encode(Tagged("
        "'result:asr.recipes.structureinfo.StructureInfoResult', {})))\n"
        "import sys; print('asr.recipes.structureinfo' in sys.modules)\n"
    )
    env = {**env, "PYTHONPATH": os.pathsep.join([str(trap), env["PYTHONPATH"]])}
    out = python(env, tmp_path, code).split()
    assert out == ["Tagged", "True"]
    assert not (tmp_path / "imported").exists()
