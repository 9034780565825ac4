"""`asr run` as a person at a terminal meets it: help, checked values, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ase.build import bulk
from click.testing import CliRunner

from asr.cli.main import cli
from asr.cli.params import parameters, result_class
from asr.core import Record
from asr.recipes import get_recipe

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}
REPO = Path(__file__).resolve().parents[2]


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def asr(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`asr ...` in a fresh process, as a user runs it."""
    env = {
        "COLUMNS": "200",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ["HOME"],
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "asr.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


def store_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / ".asr").rglob("*"))
        if p.is_file()
    }


# -- 1. help ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", "asr.relax --help"],
        ["run", "asr.relax", "--help"],
        ["run", "asr.relax", "-h"],
        ["help", "asr.relax"],
    ],
)
def test_help_shows_parameters_units_and_result_keys(args):
    out = run(*args).output
    assert "Relax positions and (the periodic part of) the cell." in out
    assert "max_steps` counts all steps" in out  # the whole docstring
    lines = {line.split()[1]: line for line in out.splitlines() if "│ --" in line}
    assert "float" in lines["--fmax"] and "0.01" in lines["--fmax"]
    assert "eV/Å" in lines["--fmax"]
    assert "eV/Å³" in lines["--smax"]
    assert "bool" in lines["--fix-cell"] and "false" in lines["--fix-cell"]
    assert "structure.json" in lines["--atoms"]
    assert "Result: RelaxResult" in out
    assert "--calculator '{" in out  # a quick calculator to try it with


def test_help_of_structureinfo_lists_its_result_keys():
    out = run("help", "asr.structureinfo").output
    assert "Space group number" in out and "Å³" in out
    assert "--symprec" in out and "Å" in out


def test_help_without_a_name_and_run_help():
    assert "Commands:" in run("help").output
    assert "Usage: asr run" in run("run", "--help").output


def test_list_points_at_help():
    assert "asr help NAME" in run("list").output


@pytest.mark.parametrize(
    "name",
    [
        "asr.gs",
        "asr.relax",
        "asr.structureinfo",
        "asr.bandstructure",
        "asr.dos",
        "asr.phonopy",
        "asr.stiffness",
    ],
)
def test_main_recipes_declare_units_and_results(name):
    instr = get_recipe(name)
    assert result_class(instr) is not None
    infos = parameters(instr)
    for info in infos:  # every number that is not a count has a unit
        if info.annotation is float:
            assert info.unit, (name, info.name)


# -- 2. values checked against annotations -----------------------------------


def test_a_wrong_number_is_one_line_naming_the_parameter(project, tmp_path):
    proc = asr("run", "asr.structureinfo --symprec abc", cwd=tmp_path)
    assert one_error_line(proc) == (
        "Error: asr.structureinfo --symprec expects a number (float), got 'abc'"
    )
    assert list(project.iter_refs()) == []


@pytest.mark.parametrize(
    "words, message",
    [
        (
            "asr.relax --max-steps 1.5",
            "asr.relax --max-steps expects an integer (int), got '1.5'",
        ),
        (
            "asr.relax --fix-cell maybe",
            "asr.relax --fix-cell expects true or false (bool), got 'maybe'",
        ),
        (
            "asr.phonopy --supercell abc",
            "asr.phonopy --supercell expects a list, e.g. [1, 2] (tuple) or none, "
            "got 'abc'",
        ),
        ("asr.relax --calculator [1]", "asr.relax --calculator expects a calculator"),
    ],
)
def test_values_are_checked_by_type(project, words, message):
    result = run("run", words, exit_code=1)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_values_are_converted_by_type():
    from asr.cli.params import parse_arguments

    relax = get_recipe("asr.relax")
    bulk("Cu").write("structure.json")
    kwargs = parse_arguments(
        relax,
        "--fmax 1 --max-steps 3 --fix-cell --optimizer 123 --calculator emt".split(),
    )
    assert kwargs["fmax"] == 1.0 and type(kwargs["fmax"]) is float
    assert kwargs["max_steps"] == 3 and kwargs["fix_cell"] is True
    assert kwargs["optimizer"] == "123"  # text stays text for a str parameter
    assert kwargs["calculator"] == {"name": "emt"}
    assert kwargs["atoms"].get_chemical_formula() == "Cu"
    phonopy = get_recipe("asr.phonopy")
    assert parse_arguments(phonopy, ["--supercell", "[2, 2, 1]"])["supercell"] == (
        2,
        2,
        1,
    )
    assert parse_arguments(phonopy, ["--supercell", "none"])["supercell"] is None
    bs = get_recipe("asr.bandstructure")
    assert parse_arguments(bs, ["--path", "GXL"])["path"] == "GXL"


def test_calculator_from_a_json_file(tmp_path):
    from asr.cli.params import parse_arguments

    bulk("Cu").write("structure.json")
    (tmp_path / "calc.json").write_text('{"name": "emt"}')
    kwargs = parse_arguments(get_recipe("asr.relax"), ["--calculator", "calc.json"])
    assert kwargs["calculator"] == {"name": "emt"}


# -- 3. a recipe's ValueError -------------------------------------------------


def test_a_recipe_value_error_is_one_line_and_stores_nothing(project, tmp_path):
    from tests.recipes.gpaw_settings import tiny_pw

    before = store_files(tmp_path)
    args = ["run", "asr.dos", "--width", "-1", "--calculator", json.dumps(tiny_pw(2))]
    line = one_error_line(asr(*args, cwd=tmp_path))
    assert line.startswith("Error: asr.dos: width must be >= 0")
    assert store_files(tmp_path) == before
    verbose = asr("--verbose", *args, cwd=tmp_path)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "dos.py" in verbose.stderr


# -- 4. long runs: a log, a status line, a word before production runs -------


@pytest.mark.gpaw
def test_gpaw_writes_its_log_beside_the_record(project, tmp_path):
    from tests.recipes.gpaw_settings import tiny_pw

    calculator = json.dumps(tiny_pw([2, 2, 2]))
    out = run("run", "asr.gs", "--calculator", calculator).output
    assert "Computed in" in out
    logs = list((tmp_path / ".asr" / "runlogs").glob("asr.gs-*.txt"))
    assert len(logs) == 1
    name = str(logs[0].relative_to(tmp_path))
    assert f"Log: {name}" in out
    text = logs[0].read_text()
    assert "Writing to gs-" in text  # GPAW's own words
    ((_, oid),) = project.iter_refs()
    assert Record.from_stored(project.get(oid)).metadata["log"] == name
    again = run("run", "asr.gs", "--calculator", calculator).output
    assert "Found in the store" in again and "Log:" not in again


def test_no_log_without_a_calculator(project, tmp_path):
    out = run("run", "asr.structureinfo").output
    assert "Log:" not in out
    assert not (tmp_path / ".asr" / "runlogs").exists()


def test_the_run_log_of_nested_instructions(project, tmp_path):
    from asr.core import instruction
    from asr.core.context import live_log, run_log

    seen = []

    @instruction("cli.inner_log")
    def inner(x: int):
        print("inner", x, file=run_log())
        seen.append(live_log())
        return x

    @instruction("cli.outer_log")
    def outer(x: int):
        print("outer starts", file=run_log())
        value = inner(x).result
        seen.append(live_log())
        return value

    record = outer(1)
    inner_log, outer_log = seen
    assert inner_log != outer_log and live_log() is None
    assert (tmp_path / record.metadata["log"]) == outer_log
    assert outer_log.read_text() == "outer starts\n"
    assert inner_log.read_text() == "inner 1\n"


def test_status_text():
    from asr.cli.status import elapsed_text, last_line, status_text

    assert elapsed_text(5.7) == "5s" and elapsed_text(185) == "3m 05s"
    assert elapsed_text(3720) == "1h 02m"
    line = "iter:  12 10:01:02  -10.2345   -4.12   -5.55"
    assert status_text("asr.gs", 185, line) == f"asr.gs running 3m 05s │ {line}"
    assert status_text("asr.gs", 1) == "asr.gs running 1s"
    long = status_text("asr.gs", 1, "x" * 200, width=40)
    assert len(long) == 40 and long.endswith("…")
    log = Path("gpaw.txt")
    assert last_line(log) == ""
    log.write_text("first\n" + "x" * 5000 + "\niter:   3  -1.0\n\n")
    assert last_line(log) == "iter:   3  -1.0"


def test_no_status_line_off_a_terminal(project):
    result = run("run", "asr.structureinfo")
    assert result.stderr == ""
    assert "running" not in result.output


GPAW_DEFAULT_RECIPE = """
from ase import Atoms
from asr.core import instruction

@instruction("cli.production")
def main(atoms: Atoms, calculator: dict = {"name": "gpaw", "mode": {"name": "pw",
         "ecut": 800}, "kpts": {"density": 12.0}, "xc": "PBE"}) -> int:
    return len(atoms)
"""


def test_production_defaults_are_announced(project, tmp_path):
    (tmp_path / "production.py").write_text(GPAW_DEFAULT_RECIPE)
    sys.path.insert(0, str(tmp_path))
    try:
        first = run("run", "production:main")
        notes = first.stderr.splitlines()
        assert notes[0] == (
            "cli.production on Si2 (2 atoms) with the default calculator: "
            "gpaw, pw, cutoff 800 eV, PBE, k-point density 12.0 per Å⁻¹."
        )
        assert "may take minutes" in notes[1]
        assert "asr run cli.production --help" in notes[1]
        assert "Computed in" in first.stdout
        again = run("run", "production:main")  # a hit: nothing to announce
        assert again.stderr == "" and "Found in the store" in again.stdout
        chosen = run("run", "production:main", "--calculator", "emt")
        assert chosen.stderr == ""
    finally:
        sys.path.remove(str(tmp_path))
