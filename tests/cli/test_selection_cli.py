"""Selections as people type them: the names the tables show, comparisons."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from asr.cli.main import cli
from asr.core import instruction, use_store
from asr.core.selection import Criterion, SelectionError, parse_selection
from asr.store import init_store


def run(*args: str, exit_code: int = 0, columns: int = 120):
    env = {"COLUMNS": str(columns), "NO_COLOR": "1", "FORCE_COLOR": None}
    result = CliRunner(env=env).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def uids(*selection: str) -> set[str]:
    rows = json.loads(run("cache", "ls", *selection, "--format", "json").output)
    return {row["uid"] for row in rows}


@instruction("sel.energy_of_a_long_named_property")
def energy(ecut: float, kpts: int = 4, label: str = "") -> dict:
    return {"energy": -ecut / 100}


@instruction("sel.gap")
def gap(ecut: float) -> dict:
    return {"gap": ecut / 1000}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Records in tree/MoS2 and tree/WS2 (ecut 400, 500, 600) and at the top."""
    store = init_store(tmp_path)
    made = {}
    with use_store(store):
        for folder, ecut in [("tree/MoS2", 400), ("tree/MoS2", 500), ("tree/WS2", 600)]:
            path = tmp_path / folder
            path.mkdir(parents=True, exist_ok=True)
            monkeypatch.chdir(path)
            made[folder, ecut] = energy(ecut, label="x" * 30).uid
        monkeypatch.chdir(tmp_path)
        made["gap"] = gap(500).uid
        yield made


def test_folder_is_the_column_name(project):
    mos2 = {project["tree/MoS2", 400], project["tree/MoS2", 500]}
    assert uids("folder=tree/MoS2") == mos2
    assert uids("metadata.directory=tree/MoS2") == mos2
    assert uids("folder=tree/*") == mos2 | {project["tree/WS2", 600]}
    assert uids("folder=.") == {project["gap"]}


def test_comparisons_and_wildcards(project):
    assert uids("ecut>=500", "name=sel.e*") == {
        project["tree/MoS2", 500],
        project["tree/WS2", 600],
    }
    assert uids("ecut<500") == {project["tree/MoS2", 400]}
    assert uids("arguments.ecut=500.0") == {project["tree/MoS2", 500], project["gap"]}
    assert len(uids("ecut!=500")) == 2
    assert uids("result.gap>0.4") == {project["gap"]}
    assert uids("gap<=0.5", "version=0") == {project["gap"]}
    assert len(uids("created>2000-01-01")) == 4
    assert uids("created<2000-01-01T12:00") == set()
    uid = project["gap"]
    assert uids(f"uid={uid[:12]}") == {uid}
    assert uids("name=sel.ga?") == {uid}


def test_unknown_key_is_refused_with_the_known_ones(project):
    out = run("cache", "ls", "ecutt=500", exit_code=1).output
    assert out.startswith("Error: unknown key 'ecutt'")
    assert len(out.strip().splitlines()) == 1
    for key in ("name", "folder", "version", "uid", "created", "ecut", "gap"):
        assert key in out
    run("cache", "rm", "foldr=tree/MoS2", "--yes", exit_code=1)
    run("cache", "ls", "created>yesterday", exit_code=1)


def test_names_are_not_cut_in_80_columns(project):
    out = run("cache", "ls", columns=80).output
    assert max(len(line) for line in out.splitlines()) <= 80
    name = "sel.energy_of_a_long_named_property"
    assert sum(name in line for line in out.splitlines()) == 3


def test_rm_takes_the_same_selection(project, tmp_path):
    run("cache", "rm", "folder=tree/MoS2", "ecut>450", "--yes")
    assert project["tree/MoS2", 500] not in uids()
    assert len(uids()) == 3


def test_show_takes_a_selection_of_one(project):
    out = run("show", "folder=tree/WS2").output
    assert project["tree/WS2", 600] in out
    many = run("show", "folder=tree/MoS2", exit_code=1).output
    assert project["tree/MoS2", 400][:12] in many
    assert "Error: 2 records match folder=tree/MoS2" in many
    run("show", "folder=nowhere", exit_code=1)
    assert project["gap"] in run("show", project["gap"][:10]).output


def test_results_takes_a_selection(project):
    name = "sel.energy_of_a_long_named_property"
    out = run("results", name, "folder=tree/MoS2", "ecut=500").output
    assert project["tree/MoS2", 500] in out and project["tree/MoS2", 400] not in out
    run("results", name, exit_code=1)  # none made in the top folder
    assert project["tree/WS2", 600] in run("results", name, "--all", "ecut>550").output


def test_parsed_criterion():
    assert parse_selection(["ecut>=500", "folder=tree/*", "x!=a=b"]) == [
        Criterion("ecut", ">=", "500"),
        Criterion("folder", "=", "tree/*"),
        Criterion("x", "!=", "a=b"),
    ]
    with pytest.raises(SelectionError):
        parse_selection(["badselection"])


def test_unknown_key_among_the_records_of_a_name(project):
    """A key is checked against the Records that fit the fixed keys: gap has
    no argument `kpts`, so `name=sel.gap kpts=4` can match nothing."""
    out = run("cache", "ls", "name=sel.gap", "kpts=4", exit_code=1).output
    assert out.startswith("Error: unknown key 'kpts'")
    assert "no Record with name=sel.gap has it" in out
    assert uids("name=sel.nothing", "kpts=4") == set()  # nothing to check it by
