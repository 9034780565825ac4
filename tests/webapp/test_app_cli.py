"""`asr app`: opening the database (read-only), errors, options."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess

import pytest
from ase import Atoms
from ase.db import connect
from click.testing import CliRunner
from serving import ASR, environment, get, serve

from asr.cli.main import cli
from asr.webapp import DatabaseOpenError, create_app, open_database

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def test_serves_a_database_with_waitress(project_db, tmp_path):
    with serve(project_db, "--cache", str(tmp_path), "--threads", "3") as server:
        assert get(server.url + "/").startswith("<!doctype html>")
        assert "Test project" in get(server.url + "/material/mos2-uid")
    assert server.first_line == (
        f"Serving {project_db} on {server.url}/ with 3 threads (Ctrl-C to stop)"
    )
    assert "development server" not in server.output
    assert "WARNING" not in server.output


def test_a_busy_server_does_not_fill_the_terminal(project_db, tmp_path):
    """What was seen: under load waitress logged "Task queue depth is N" for
    each request that waited, hundreds of lines a second."""
    from concurrent.futures import ThreadPoolExecutor

    with serve(project_db, "--cache", str(tmp_path), "--threads", "1") as server:
        urls = [f"{server.url}/?q=gap>{i / 100}" for i in range(40)]
        with ThreadPoolExecutor(20) as pool:
            assert all(page.startswith("<!doctype") for page in pool.map(get, urls))
    assert "queue" not in server.output.lower()
    assert server.output.strip().count("\n") <= 1  # the first line, Stopped.


def test_default_cache_folder(ranked_db, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    with serve(ranked_db, env=env) as server:
        page = get(server.url + "/material/1")
        figure = page.split('<img src="')[1].split('"')[0]  # the hull thumbnail
        assert get(server.url + figure, binary=True).startswith(b"\x89PNG")
    (cache_dir,) = (tmp_path / "xdg" / "asr" / "webapp").iterdir()
    assert cache_dir.name.startswith("project-")
    assert list(cache_dir.rglob("*.png"))


def test_host_and_config_file(project_db, tmp_path):
    config = tmp_path / "app.json"
    config.write_text('{"title": "From a file", "default_columns": ["id", "ehull"]}')
    with serve(project_db, "--host", "127.0.0.1", "--config", str(config)) as server:
        html = get(server.url + "/")
    assert "<title>From a file</title>" in html
    assert '<th data-column="ehull"' in html


def test_port_in_use_is_one_line(project_db, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*ASR, "app", str(project_db), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment(),
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is in use (another server?): "
        "choose another with --port\n"
    )


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
def test_missing_or_unreadable_database_is_one_line(tmp_path, make, message):
    path = tmp_path / "project.db"
    make(path)
    result = run("app", str(path), exit_code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert message.format(p=path) in lines[0]
    if not path.exists():
        assert not path.exists()  # nothing was created


def test_not_an_asr_project_is_one_line(tmp_path):
    path = tmp_path / "plain.db"
    connect(path).write(Atoms("H"), gap=1.0)
    result = run("app", str(path), exit_code=1)
    assert result.output == (
        f"Error: {path} is an ASE database but not an ASR project (no row holds "
        "Records); make one with: asr database fromtree FOLDERS\n"
    )
    empty = tmp_path / "empty.db"
    connect(empty).metadata = {"title": "nothing yet"}
    result = run("app", str(empty), exit_code=1)
    assert result.output == f"Error: {empty} has no rows\n"


def test_bad_config_file(project_db, tmp_path):
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
    out = run("app", "--help").output
    assert "--port" in out and "--threads" in out
