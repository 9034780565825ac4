"""The Flask app: a read-only view of an ASR project database.

Routes::

    /                                       search page (state in the URL)
    /material/<id or unique_id>             a material's page
    /material/<ident>/figure/<oid>/<name>   a figure of one of its Records
    /material/<ident>/raw.json              all its Records as JSON (download)
    /material/<ident>/raw                   the same, to browse
    /material/<ident>/structure.<xyz|cif>   its structure as a file

Every value from the database is escaped by Jinja (autoescape on, also for
keys and titles); only GET requests exist, and no route writes anywhere but
the figure cache.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ase.db.core import Database
from ase.db.sqlite import SQLite3Database
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from .cache import OBJECT_ID, LRUCache, default_cache_dir, valid_figure
from .config import PAGE_SIZES, AppConfig
from .db import StatsCache, file_version, open_database
from .material import Material, build_material
from .search import QUERY_ERRORS, QueryError, SearchState, run_search
from .searchtable import SearchTables

MAX_IDENT = 200
#: What links leave unquoted in URL parameters and paths (as werkzeug does).
URL_SAFE = "!$'()*,/:;@"
#: Rendered pages kept in memory (by URL and database version); a search
#: page is some 30 kB, a material page with many panels a few hundred.
PAGES_CACHED = 384
FORMULA = re.compile(r"^[A-Za-z0-9()]+$")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@dataclass
class Project:
    """What the routes share: the database, its configuration and caches."""

    db: Database
    path: Path
    config: AppConfig
    stats: StatsCache
    materials: LRUCache[tuple, Material]
    cache_dir: Path
    counts: LRUCache[tuple, int] = field(default_factory=lambda: LRUCache(4096))
    pages: LRUCache[tuple, tuple[str, int]] = field(
        default_factory=lambda: LRUCache(PAGES_CACHED)
    )
    tables: SearchTables | None = None

    def find_row(self, ident: str) -> Any:
        """The row with this id or unique id (data read lazily); 404 if none."""
        if not ident or len(ident) > MAX_IDENT:
            abort(404, description="No such material.")
        if ident.isdigit():
            try:
                return self.db.get(id=int(ident))
            except (KeyError, OverflowError):
                pass
        try:
            return self.db.get(unique_id=ident)
        except QUERY_ERRORS:  # none, or several rows (an unsound database)
            abort(404, description=f"No material {ident!r} in this database.")

    def material(self, ident: str) -> Material:
        row = self.find_row(ident)
        key = (row.id, row.get("unique_id"), row.get("mtime"))
        found = self.materials.get(key)
        if found is None:
            found = build_material(row, self.config, self.cache_dir)
            self.materials.put(key, found)
        return found


def create_app(
    db_path: str | os.PathLike,
    *,
    config: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    lru_size: int = 128,
) -> Flask:
    """The app for one database; `DatabaseOpenError` if it cannot be read.

    `config` overrides entries of the database's metadata (see `config.py`);
    figures are cached in `cache_dir` (default: in the temporary folder).
    """
    db = open_database(db_path)
    project = Project(
        db=db,
        path=Path(db_path),
        config=AppConfig.from_metadata(db.metadata, config),
        stats=StatsCache(db),
        materials=LRUCache(lru_size),
        cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(db_path),
    )
    project.stats.get()  # learn the keys now, not during the first search
    if isinstance(db, SQLite3Database):
        project.tables = SearchTables(db, project.cache_dir)
        project.tables.get()  # and build the search table
    app = Flask(__name__)
    app.jinja_env.autoescape = True
    app.jinja_env.filters["formula"] = formula_html
    app.extensions["asr"] = project
    _add_routes(app, project)
    return app


def formula_html(formula: Any) -> Markup:
    """MoS2 -> Mo S<sub>2</sub>; anything else than a formula is escaped."""
    text = str(formula)
    if not FORMULA.match(text):
        return escape(text)
    return Markup(re.sub(r"(\d+)", r"<sub>\1</sub>", text))


def _add_routes(app: Flask, project: Project) -> None:
    config = project.config

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return (
            render_template(
                "error.html", project=project, code=err.code, message=err.description
            ),
            err.code or 500,
        )

    def cached(render: Callable[[], tuple[str, int]]) -> tuple[str, int]:
        """A page as rendered before for this URL and version of the file.

        Pages with an age (a column or a query) change with the clock and
        are always rendered.
        """
        if b"age" in request.query_string:
            return render()
        key = (request.url, file_version(project.db))
        page = project.pages.get(key)
        if page is None:
            page = render()
            project.pages.put(key, page)
        return page

    @app.route("/")
    def search():
        if request.args.get("add"):
            return search_page()
        return cached(search_page)

    def search_page() -> tuple[str, int]:
        stats = project.stats.get()
        state = SearchState.from_args(request.args, config, stats)
        added = request.args.get("add", "")
        if added:
            if added in stats.keys or added in _special_columns():
                state.columns = list(dict.fromkeys([*state.columns, added]))
            return redirect(url_for("search", **state.params(config)))
        filters = config.choose_filters(stats)
        error, result, status = "", None, 200
        try:
            result = run_search(
                project.db,
                state,
                config,
                stats,
                project.counts,
                project.tables.get() if project.tables else None,
            )
        except QueryError as err:
            error, status = str(err), 400

        base = url_for("search")

        def link(**changes: Any) -> str:
            params = state.params(config, **changes)
            return base + "?" + urlencode(params, safe=URL_SAFE) if params else base

        prefix = url_for("material", ident="-")[:-1]

        def material_url(ident: str) -> str:
            return prefix + quote(ident, safe=URL_SAFE)

        addable = [
            (key, config.describe(key).label)
            for key in [*_special_columns(), *stats.names()]
            if key not in state.columns
        ]
        html = render_template(
            "search.html",
            project=project,
            config=config,
            state=state,
            result=result,
            error=error,
            filters=filters,
            addable=addable,
            link=link,
            material_url=material_url,
            page_sizes=PAGE_SIZES,
            permalink=url_for("search", _external=True, **state.params(config)),
        )
        return html, status

    @app.route("/material/<ident>")
    def material(ident: str):
        def render() -> tuple[str, int]:
            found = project.material(ident)
            return render_template("material.html", project=project, m=found), 200

        return cached(render)

    @app.route("/material/<ident>/figure/<oid>/<name>")
    def figure(ident: str, oid: str, name: str):
        if not OBJECT_ID.match(oid) or not valid_figure(name):
            abort(404, description="No such figure.")
        found = project.material(ident)
        try:
            path = found.figure(oid, name)
        except Exception:  # a Result that cannot draw: no figure, not a 500
            current_app.logger.exception("drawing the figures of %s failed", oid)
            path = None
        if path is None:
            abort(404, description="No such figure.")
        return send_from_directory(found.folder / oid, name, max_age=3600)

    @app.route("/material/<ident>/raw.json")
    def raw_json(ident: str):
        from .raw import material_json

        found = project.material(ident)
        body = json.dumps(material_json(found), indent=1, allow_nan=False)
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", found.ident) + ".json"
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.route("/material/<ident>/raw")
    def raw_browse(ident: str):
        from .raw import material_json, tree

        found = project.material(ident)
        data = material_json(found)
        return render_template(
            "raw.html", project=project, m=found, root=tree(data, found.ident)
        )

    @app.route("/material/<ident>/structure.<fmt>")
    def structure_file(ident: str, fmt: str):
        if fmt not in ("xyz", "cif"):
            abort(404, description="Structures are available as .xyz and .cif.")
        row = project.find_row(ident)
        atoms = row.toatoms()
        buffer = io.BytesIO() if fmt == "cif" else io.StringIO()
        atoms.write(buffer, format="cif" if fmt == "cif" else "extxyz")
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", ident) + "." + fmt
        return Response(
            buffer.getvalue(),
            mimetype="chemical/x-" + fmt,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.route("/robots.txt")
    def robots():
        return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")


def _special_columns() -> list[str]:
    from .config import SPECIAL_COLUMNS

    return list(SPECIAL_COLUMNS)
