"""Record commands: run, list, results, cache ls/rm/migrate, show, log, diff."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from asr.cli.main import cli
from asr.core import instruction
from asr.core.migration import Migration, Selector, register_migration

TERMINAL = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0, input: str | None = None):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args), input=input)
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def test_run_structureinfo_and_hit(project):
    out = run("run", "asr.structureinfo --atoms structure.json").output
    assert "Fd-3m" in out and "227" in out
    assert "Computed in" in out
    uid = out.split("record ")[1].split()[0]
    again = run("run", "asr.structureinfo").output  # structure.json by default
    assert f"record {uid}" in again
    assert "Found in the store: not computed again." in again
    assert len(list(project.iter_refs())) == 1


def test_run_options_unquoted(project):
    out = run("run", "asr.structureinfo", "--symprec", "0.01").output
    assert "Fd-3m" in out


def test_run_module_function(project, tmp_path):
    (tmp_path / "mymod.py").write_text(
        "from asr.core import instruction\n"
        "@instruction('my.double')\n"
        "def double(x: int):\n"
        "    return 2 * x\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        assert "42" in run("run", "mymod:double --x 21").output
    finally:
        sys.path.remove(str(tmp_path))


def test_list_shows_recipes():
    out = run("list").output
    assert "asr.structureinfo" in out and "space group" in out


def test_results_prints_and_writes_figures(project):
    run("run", "asr.structureinfo")
    out = run("results", "asr.structureinfo").output
    assert "Fd-3m" in out
    run("results", "asr.gs", exit_code=1)


def test_cache_ls_and_rm(project):
    run("run", "asr.structureinfo")
    run("run", "asr.structureinfo --symprec 0.1")
    table = run("cache", "ls", "name=asr.structureinfo").output
    assert "2 records" in table
    rows = json.loads(run("cache", "ls", "symprec=0.1", "--format", "json").output)
    assert len(rows) == 1 and rows[0]["arguments"]["symprec"] == 0.1
    run("cache", "rm", "symprec=0.1", input="n\n", exit_code=1)
    assert len(list(project.iter_refs())) == 2
    run("cache", "rm", "symprec=0.1", "--yes")
    assert len(list(project.iter_refs())) == 1
    run("cache", "ls", "badselection", exit_code=1)


def test_show_log_deps_and_graph(project, tmp_path):
    @instruction("cli.inner")
    def inner(x: int):
        return x

    @instruction("cli.outer")
    def outer(x: int):
        return inner(x).result + 1

    record = outer(1)
    shown = run("show", record.uid[:8]).output
    assert "cli.outer" in shown and "dependency" in shown
    tree = run("log", record.uid[:8], "--deps").output
    assert "cli.outer" in tree and "cli.inner" in tree
    run("log", record.uid, "--graph", "deps.dot")
    dot = (tmp_path / "deps.dot").read_text()
    assert dot.startswith("digraph") and "->" in dot


def test_diff_explains_a_miss(project):
    a = run("run", "asr.structureinfo").output.split("record ")[1].split()[0]
    b = (
        run("run", "asr.structureinfo --symprec 0.01")
        .output.split("record ")[1]
        .split()[0]
    )
    out = run("diff", a[:8], b[:8]).output
    assert "arguments.symprec" in out and "0.001" in out and "0.01" in out
    assert "No differences" in run("diff", a, a).output


def test_migrate_lists_applies_and_reruns(project):
    @instruction("cli.gap", version=0)
    def gap(x: float):
        return {"gap": x}

    records = [gap(float(i)) for i in range(3)]

    def rename(record):
        record.result = {"band_gap": record.result["gap"]}
        record.version = 1
        return record

    register_migration(
        Migration("cli-gap-0-1", "Rename gap to band_gap", rename),
        Selector(name="cli.gap", version=0),
    )
    listed = run("cache", "migrate").output
    assert "Rename gap to band_gap" in listed and "3" in listed and "--apply" in listed
    applied = run("cache", "migrate", "--apply").output
    assert "Migrated 3 Records" in applied
    assert "until `asr gc` packs them" in applied
    assert "Nothing to migrate" in run("cache", "migrate").output
    assert "Packed 3 loose refs." in run("gc").output
    log = run("log", records[0].uid).output
    assert "Rename gap to band_gap" in log and "cli-gap-0-1" in log
    shown = run("show", records[0].uid + "~1").output
    assert "not the newest revision" in shown
    out = run("diff", records[0].uid + "~1", records[0].uid).output
    assert "result.band_gap" in out and "version" in out


def test_user_errors_are_one_line_in_a_real_process(project, tmp_path):
    for args in (
        ["run", "asr.nonexistent"],
        ["run", "asr.structureinfo --atoms missing.json"],
        ["run", "asr.structureinfo --wrong 1"],
        ["diff", "zzzz", "yyyy"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "asr.cli.main", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={"COLUMNS": "200", "PATH": ""},
        )
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
        assert "Traceback" not in proc.stderr


def test_errors_registered_by_name_are_one_line(project):
    """`asr.cli.records` names some error types instead of importing them."""
    out = run("run", "asr.nonexistent", exit_code=1).output
    assert out.strip() == (
        "Error: no recipe named 'asr.nonexistent': `asr list` shows them all"
    )
