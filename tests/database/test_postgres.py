"""The PostgreSQL backend, against a real server started for these tests.

A throwaway cluster (initdb + pg_ctl from Debian's `postgresql` package,
which `make install` installs) runs in a temporary folder on a free port,
as the `postgres` user when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ase.db
import pytest

from asr.database import DatabaseError, fromtree, merge, split, totree
from asr.store import open_store
from asr.store.fsck import fsck

pytestmark = pytest.mark.slow


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    candidates = []
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The address of a fresh database on a server of our own."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "apt-get install postgresql"
        )
    user: dict = {}
    folder = Path(tempfile.mkdtemp(prefix="asr-postgres-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        user = {"user": "postgres", "group": "postgres", "extra_groups": []}
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run(
            [str(binaries / args[0]), *args[1:]],
            cwd=folder,
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
            **user,
        )

    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"cannot start PostgreSQL: {err.stderr}") from None
    try:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres"
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE asrtest")
        connection.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/asrtest"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_fromtree_to_postgres_and_back(tree, tmp_path, postgres, snapshot):
    report = fromtree(tree.folders, postgres, workers=2, force=True)
    assert (report.rows, report.skipped) == (5, [])
    db = ase.db.connect(postgres)
    assert db.count() == 5
    cu = db.get(folder="materials/Cu")
    assert cu.spgnum == 225 and cu.formula == "Cu"
    assert db.metadata["key_descriptions"]["emt_energy"][2] == "eV"

    fromtree(tree.folders, tmp_path / "project.db")
    assert snapshot(postgres) == snapshot(tmp_path / "project.db")

    back = totree(postgres, tmp_path / "rebuilt")
    assert (back.folders, back.conflicts) == (5, [])
    check = fsck(open_store(tmp_path / "rebuilt"))
    assert check.errors == [] and check.unreachable == []

    with pytest.raises(DatabaseError, match="already holds rows"):
        fromtree(tree.folders, postgres)

    parts = split(postgres, 2, out_prefix=str(tmp_path / "part-"))
    merge(parts, tmp_path / "merged.db")
    assert snapshot(tmp_path / "merged.db") == snapshot(postgres)


def test_bad_address_is_one_clear_error(postgres):
    wrong = postgres.rsplit(":", 1)[0] + f":{free_port()}/asrtest"
    with pytest.raises(DatabaseError, match="cannot connect to"):
        fromtree([], wrong)
