"""`asr workflow run|status|local`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfhelpers import write_flow

from asr.cli.main import cli
from asr.workflow import local

FLOW = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        atoms = read("structure.json")
        energy = run("wfsteps:energy", atoms)
        if energy.result < 1000:
            run("wfsteps:strain", atoms, factor=1.01)
"""


def asr(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asr.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.slow
def test_run_local_drives_the_workflow_to_its_end(tree):
    flow = write_flow(tree, FLOW)
    done = asr("workflow", "run", str(flow), "tree/Cu", "tree/Al", "--local", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert "2 folders, 4 instructions: 4 done (2 rounds of mq workflow)" in done.stdout
    assert local.server_pid(tree) is None  # stopped again
    again = asr("workflow", "run", str(flow), "tree/Cu", "tree/Al", "--local", cwd=tree)
    assert "4 done (0 rounds of mq workflow)" in again.stdout


def test_status_shows_each_call_and_where_the_workflow_waits(tree):
    flow = write_flow(tree, FLOW)
    result = CliRunner().invoke(
        cli, ["workflow", "status", str(flow), "tree/Cu"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "test.wf.energy-" in result.output
    assert "new" in result.output  # no MyQueue tree: nothing submitted yet
    assert "waiting" in result.output
    assert "needs <test.wf.energy-" in result.output
    assert "1 instruction: 1 new; waiting for a result in 1 folder" in result.output


def test_status_names_the_folder_without_an_input_file(tree):
    flow = write_flow(tree, FLOW)
    (tree / "tree" / "Al" / "structure.json").unlink()
    result = CliRunner().invoke(
        cli, ["workflow", "status", str(flow), "tree/Cu", "tree/Al"]
    )
    assert result.exit_code == 1
    assert "Error: no structure.json in tree/Al" in result.output
    assert "Traceback" not in result.output


def test_run_names_the_folder_without_an_input_file(tree):
    flow = write_flow(tree, FLOW)
    (tree / "tree" / "Al" / "structure.json").unlink()
    args = ["workflow", "run", str(flow), "tree/Cu", "tree/Al", "--local"]
    done = asr(*args, "--cores", "1", cwd=tree)
    assert done.returncode == 1
    assert "Error: no structure.json in tree/Al" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr  # nor one of `mq workflow`
    assert local.server_pid(tree) is None


def test_local_start_and_stop(tree):
    runner = CliRunner()
    result = runner.invoke(cli, ["workflow", "local", "start", "--cores", "1"])
    assert result.exit_code == 0, result.output
    pid = local.server_pid(tree)
    assert pid is not None and f"pid {pid}" in result.output
    config = (tree / ".myqueue" / "config.py").read_text()
    assert "use_server(socket=" in config and sys.executable in config
    address = config.split("use_server(socket=")[1].split(")")[0].strip("'")
    assert Path(address).is_socket()
    result = runner.invoke(cli, ["workflow", "local", "stop"])
    assert result.exit_code == 0 and "stopped" in result.output
    assert local.server_pid(tree) is None
    assert not Path(address).parent.exists()  # its folder went with it


def test_local_refuses_another_scheduler(tree):
    (tree / ".myqueue").mkdir()
    (tree / ".myqueue" / "config.py").write_text("config = {'scheduler': 'slurm'}\n")
    result = CliRunner().invoke(cli, ["workflow", "local", "start"])
    assert result.exit_code == 1
    assert "uses the 'slurm' scheduler" in result.output


def test_local_never_configures_the_users_myqueue(tmp_path, monkeypatch):
    # MyQueue makes ~/.myqueue on every call: a tree below the home folder
    # must still get a MyQueue home (and local configuration) of its own.
    home = tmp_path / "me"
    (home / ".myqueue").mkdir(parents=True)
    users = home / ".myqueue" / "config.py"
    users.write_text("config = {'scheduler': 'slurm'}\n")
    project = home / "project"
    project.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    runner = CliRunner()
    result = runner.invoke(cli, ["workflow", "local", "start", "--cores", "1"])
    assert result.exit_code == 0, result.output
    try:
        assert users.read_text() == "config = {'scheduler': 'slurm'}\n"
        assert "use_server" in (project / ".myqueue" / "config.py").read_text()
    finally:
        runner.invoke(cli, ["workflow", "local", "stop"])
    assert local.server_pid(project) is None
