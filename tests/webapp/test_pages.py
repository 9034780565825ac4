"""Rendered pages are kept by URL and version of the database file."""

from __future__ import annotations

import os

from ase import Atoms
from ase.db import connect
from test_searchtable import make_db


def touch(path) -> None:
    """A new modification time, as a write a second later would leave."""
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_page_is_rendered_once_per_version_of_the_file(tmp_path):
    from asr.webapp import create_app

    db_path = make_db(tmp_path / "project.db", nrows=12)
    app = create_app(db_path, cache_dir=tmp_path / "cache")
    client, project = app.test_client(), app.extensions["asr"]
    url = "/?q=label>m005&columns=id,label"
    first = client.get(url).get_data(as_text=True)
    assert client.get(url).get_data(as_text=True) == first
    assert len(project.pages) == 1
    assert "m777" not in first and "m777" not in client.get("/material/3").text

    db = connect(db_path)
    db.write(Atoms("H"), label="m777")
    db.update(3, label="m777")
    touch(db_path)
    assert "m777" in client.get(url).get_data(as_text=True)
    assert "m777" in client.get("/material/3").get_data(as_text=True)


def test_pages_with_an_age_are_always_rendered(tmp_path):
    from asr.webapp import create_app

    db_path = make_db(tmp_path / "project.db", nrows=3)
    app = create_app(db_path, cache_dir=tmp_path / "cache")
    client = app.test_client()
    assert client.get("/?columns=id,age").status_code == 200
    assert client.get("/?q=age<1d").status_code == 200
    assert len(app.extensions["asr"].pages) == 0
