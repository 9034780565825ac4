"""`asr app`: opening the database (read-only), errors, options."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from ase import Atoms
from ase.db import connect
from click.testing import CliRunner
from flask import Flask

from asr.cli.main import cli
from asr.webapp import DatabaseOpenError, create_app, open_database

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


@pytest.fixture
def served(monkeypatch):
    """Flask.run records how it was called instead of serving."""
    calls = []

    def fake_run(self, host=None, port=None, **options):
        calls.append({"app": self, "host": host, "port": port, **options})

    monkeypatch.setattr(Flask, "run", fake_run)
    return calls


def test_serves_a_database(project_db, served, tmp_path):
    out = run("app", str(project_db), "--port", "8123", "--cache", str(tmp_path)).output
    assert "http://127.0.0.1:8123/" in out
    (call,) = served
    assert (call["host"], call["port"], call["threaded"]) == ("127.0.0.1", 8123, True)
    client = call["app"].test_client()
    assert client.get("/").status_code == 200


def test_default_cache_folder(project_db, served, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run("app", str(project_db))
    (call,) = served
    cache_dir = call["app"].extensions["asr"].cache_dir
    assert cache_dir.parent == tmp_path / "xdg" / "asr" / "webapp"
    assert cache_dir.name.startswith("project-")


def test_host_and_config_file(project_db, served, tmp_path):
    config = tmp_path / "app.json"
    config.write_text('{"title": "From a file", "default_columns": ["id", "ehull"]}')
    run("app", str(project_db), "--host", "0.0.0.0", "--config", str(config))
    (call,) = served
    assert call["host"] == "0.0.0.0" and call["port"] == 5000
    html = call["app"].test_client().get("/").get_data(as_text=True)
    assert "<title>From a file</title>" in html
    assert '<th data-column="ehull"' in html


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no database at {p}"),
        (lambda p: p.mkdir(), "{p} is not a file"),
        (
            lambda p: p.write_text("hello, I am not a database"),
            "is not an ASE database",
        ),
        (lambda p: p.write_bytes(b""), "is not an ASE database"),
    ],
)
def test_missing_or_unreadable_database_is_one_line(tmp_path, served, make, message):
    path = tmp_path / "project.db"
    make(path)
    result = run("app", str(path), exit_code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert message.format(p=path) in lines[0]
    assert not served
    if not path.exists():
        assert not path.exists()  # nothing was created


def test_bad_config_file(project_db, tmp_path, served):
    config = tmp_path / "app.json"
    config.write_text("{not json")
    result = run("app", str(project_db), "--config", str(config), exit_code=1)
    assert "Error: cannot read" in result.output
    config.write_text('{"filters": [{"key": "gap", "type": "slider"}]}')
    result = run("app", str(project_db), "--config", str(config), exit_code=1)
    assert "filter type must be 'range' or 'select'" in result.output


def test_app_never_writes_the_database(project_db, tmp_path):
    before = hashlib.sha256(project_db.read_bytes()).hexdigest()
    files = set(project_db.parent.iterdir())
    client = create_app(project_db, cache_dir=tmp_path / "cache").test_client()
    for url in ["/", "/?q=gap>1&sort=-gap", "/material/1", "/material/1/raw.json"]:
        assert client.get(url).status_code == 200
    assert hashlib.sha256(project_db.read_bytes()).hexdigest() == before
    assert set(project_db.parent.iterdir()) == files  # no journal left behind
    db = open_database(project_db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.write(Atoms("H"))


def test_json_database(tmp_path):
    path = tmp_path / "small.json"
    db = connect(path)
    db.write(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]], cell=[4, 4, 4]), gap=1.5)
    db.write(Atoms("He", cell=[4, 4, 4]), gap=0.5, magstate="nm")
    client = create_app(path, cache_dir=tmp_path / "cache").test_client()
    html = client.get("/?q=gap>1&columns=id,formula,gap").get_data(as_text=True)
    assert "Rows 1–1 of 1 matching (2 in the database)" in " ".join(html.split())
    assert client.get("/material/2").status_code == 200


def test_open_database_errors(tmp_path):
    with pytest.raises(DatabaseOpenError, match="no database"):
        open_database(tmp_path / "nothing.db")


def test_help_lists_app():
    assert "app" in run("--help").output
    assert "--port" in run("app", "--help").output
