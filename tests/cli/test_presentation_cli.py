"""What `asr run`, `asr show`, `asr results` print for Results and Records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ase.build import bulk
from click.testing import CliRunner

import asr
from asr.cli.main import cli
from asr.store import init_store

TERMINAL = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None}

# A recipe module only the process that writes the store imports.
THING = """
from dataclasses import dataclass, field

from asr.core import Result, instruction, key


@dataclass
class ThingResult(Result):
    title = "Thing"
    energy: float = field(metadata=key("Energy [total]", "eV"))
    letters: list = field(metadata=key("Letters"))


@instruction("thing.make")
def make(x: float = 1.0, label: str = "[b]") -> ThingResult:
    return ThingResult(energy=x * 1.69832000001, letters=["b", "b"])
"""


def run(*args: str, exit_code: int = 0) -> str:
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result.output


def row(output: str, word: str) -> str:
    return next(line for line in output.splitlines() if f" {word} " in line)


@pytest.fixture
def silicon(tmp_path):
    init_store(tmp_path)
    bulk("Si").write("structure.json")


def test_run_and_show_keep_lists_of_strings(silicon):
    out = run("run", "asr.structureinfo --atoms structure.json")
    assert "[b, b]" in row(out, "wyckoff")
    uid = out.split("record ")[1].split()[0]
    shown = run("show", uid)
    assert "[b, b]" in row(shown, "wyckoff")
    assert "Wyckoff letter of each atom" in shown  # the Result's own table
    assert " Å " in row(shown, "cell_lengths")


def test_results_keep_lists_of_strings(silicon):
    run("run", "asr.structureinfo")
    out = run("results", "asr.structureinfo")
    assert "[b, b]" in row(out, "wyckoff")


def make_thing(folder: Path, *options: str) -> str:
    """Run thing.make in another process (which imports thingmod); the uid."""
    env = dict(os.environ, PYTHONPATH=str(Path(asr.__file__).parents[1]))
    env.update((k, v) for k, v in TERMINAL.items() if v is not None)
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "run", "thingmod:make", *options],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Thing" in done.stdout and "[b, b]" in done.stdout
    return done.stdout.split("record ")[1].split()[0]


@pytest.fixture
def unknown_result(tmp_path) -> str:
    """A store holding a ThingResult, written by another process; its uid."""
    init_store(tmp_path)
    (tmp_path / "thingmod.py").write_text(THING)
    uid = make_thing(tmp_path)
    assert "thingmod" not in sys.modules
    return uid


def test_show_an_unloaded_result_as_a_table(unknown_result):
    out = run("show", unknown_result)
    assert "ThingResult (thingmod, not loaded)" in out
    assert "1.69832" in row(out, "energy") and "1.698320000" not in out
    assert "[b, b]" in row(out, "letters")
    assert "Tagged" not in out


def test_results_of_an_unloaded_result(unknown_result):
    out = run("results", "thing.make")
    assert "ThingResult (thingmod, not loaded)" in out
    assert "[b, b]" in row(out, "letters")
    assert "Tagged" not in out


def test_cache_ls_and_diff_show_text_as_it_is(unknown_result, tmp_path):
    assert "label=[b]" in row(run("cache", "ls"), "thing.make")
    other = make_thing(tmp_path, "--label", "[i]")
    out = run("diff", unknown_result, other)
    assert "[b]" in row(out, "arguments.label")
    assert "[i]" in row(out, "arguments.label")
