"""Fixtures of the web app tests: the project database, the app, a client."""

from __future__ import annotations

from pathlib import Path

import pytest
from webapp_project import make_project


@pytest.fixture(scope="session")
def project_db(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("project") / "project.db")


@pytest.fixture
def app(project_db, tmp_path):
    from asr.webapp import create_app

    flask_app = create_app(project_db, cache_dir=tmp_path / "cache")
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def ranked_db(tmp_path_factory) -> Path:
    """A project made by `fromtree` from Records whose keys are ranked."""
    from ranked_project import make_ranked_project

    return make_ranked_project(tmp_path_factory.mktemp("ranked"))


@pytest.fixture
def ranked_client(ranked_db, tmp_path):
    from asr.webapp import create_app

    return create_app(ranked_db, cache_dir=tmp_path / "cache").test_client()
