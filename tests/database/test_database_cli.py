"""`asr database ...` through click's CliRunner."""

from __future__ import annotations

import ase.db
from click.testing import CliRunner

from asr.cli.main import cli
from asr.store import open_store
from asr.store.fsck import fsck

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def test_database_group_is_listed():
    out = run("--help").output
    assert "database" in out
    out = run("database", "--help").output
    for verb in ("fromtree", "totree", "merge", "split", "treelinks", "crosslinks"):
        assert verb in out


def test_fromtree_totree_merge_split(tree, tmp_path, snapshot):
    bad = tree.top / "materials" / "bad"
    bad.mkdir()
    (bad / "structure.json").write_text("]")
    folders = [str(f) for f in tree.folders] + [str(bad)]
    out = run("database", "fromtree", *folders, "--out", "project.db", "-j", "2").output
    lines = out.splitlines()
    assert lines[0].startswith("skipped materials/bad: cannot read structure.json")
    assert "warning: materials/Cu and 4 more: test.database.emt: key 'fmax'" in out
    assert lines[-1] == "Wrote 5 rows (15 records) to project.db; skipped 1 folder."
    assert ase.db.connect(tmp_path / "project.db").count() == 5

    again = run("database", "fromtree", *folders, "--out", "project.db", exit_code=1)
    assert "Error: project.db already holds rows" in again.output
    run("database", "fromtree", *folders, "--out", "project.db", "--force")

    out = run("database", "totree", "project.db", "--folder", "rebuilt").output
    assert out.strip().startswith("Wrote 5 folders and 18 records")
    assert fsck(open_store(tmp_path / "rebuilt")).errors == []

    out = run("database", "split", "project.db", "2").output
    assert out.strip() == "Wrote project-1.db, project-2.db."
    out = run(
        "database", "merge", "project-1.db", "project-2.db", "--out", "merged.db"
    ).output
    assert out.strip() == "Wrote 5 rows to merged.db (0 materials merged)."
    assert snapshot(tmp_path / "merged.db") == snapshot(tmp_path / "project.db")


def test_links_commands(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tree.top)
    folders = [str(f) for f in tree.folders]
    out = run("database", "treelinks", *folders).output
    assert out.strip() == "2 links between 5 folders; wrote 2 links.json files."
    run("database", "fromtree", *folders, "--out", str(tmp_path / "a.db"))
    run("database", "fromtree", *folders[:2], "--out", str(tmp_path / "b.db"))
    out = run("database", "crosslinks", str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    assert (
        out.output.strip()
        == "4 links from 2 rows; updated 2 rows of " + str(tmp_path / "a.db") + "."
    )


def test_user_errors_are_one_line(tmp_path):
    out = run("database", "totree", "missing.db", exit_code=1).output
    assert out.strip() == "Error: no database file missing.db"
    out = run("database", "merge", "missing.db", "--out", "x.db", exit_code=1).output
    assert "give at least two databases" in out
    out = run("database", "fromtree", "nowhere", "--out", "p.db", exit_code=1).output
    assert out.splitlines()[0] == "skipped nowhere: not a folder"
    assert out.splitlines()[-1] == "Error: no folder could be read"
    out = run("database", "split", "missing.db", "0", exit_code=1).output
    assert "0 is not in the range" in out


def test_describe_lists_keys_descriptions_units_counts(tree, tmp_path):
    folders = [str(f) for f in tree.folders]
    run("database", "fromtree", *folders, "--out", "project.db", "-j", "1")
    out = run("database", "describe", "project.db").output
    lines = out.splitlines()
    assert lines[0].strip() == "project.db: 5 rows"
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    by_key = {r[0]: r for r in rows if r[0]}
    assert rows[0][0] == "spacegroup"  # ranked keys first
    assert by_key["spacegroup"][1:] == [
        "Space group",
        "Space group symbol",
        "",
        "10",
        "5",
    ]
    assert by_key["emt_energy"] == ["emt_energy", "EMT energy", "", "eV", "", "5"]


def test_describe_errors_are_one_line(tmp_path):
    result = run("database", "describe", "missing.db", exit_code=1)
    assert result.output == "Error: no database file missing.db\n"
    (tmp_path / "junk.db").write_text("not a database")
    result = run("database", "describe", "junk.db", exit_code=1)
    assert result.output.startswith("Error: cannot read ")
    assert "junk.db: file is not a database" in result.output
    assert len(result.output.splitlines()) == 1
