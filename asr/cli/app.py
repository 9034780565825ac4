"""`asr app DATABASE`: browse, search and present a project in the browser.

Served by waitress, a production WSGI server in pure Python: no compiler,
no fork, the same on a cluster's login node, a laptop and Windows, and
threads that share one app (its caches of pages and key statistics).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import click

DEFAULT_THREADS = 8


@click.command()
@click.argument("database", type=click.Path(path_type=Path))
@click.option("--port", default=5000, show_default=True, help="Port to serve on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=256),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Requests served at once.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file overriding the database's metadata (title, key_descriptions, "
    "key_priority, key_digits, default_columns, filters, summary, thumbnails, "
    "panel_priority).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where figures are cached [default: $XDG_CACHE_HOME/asr/webapp/..., "
    "or ~/.cache/asr/webapp/...].",
)
def app(
    database: Path,
    port: int,
    host: str,
    threads: int,
    config_file: Path | None,
    cache_dir: Path | None,
) -> None:
    """Serve DATABASE (an ASE database of ASR results) read-only on the web."""
    from waitress import create_server

    from asr.webapp import ConfigError, DatabaseOpenError, create_app
    from asr.webapp.cache import user_cache_dir
    from asr.webapp.db import check_project

    config = None
    if config_file is not None:
        try:
            config = json.loads(config_file.read_text())
        except (OSError, ValueError) as err:
            raise click.ClickException(f"cannot read {config_file}: {err}") from None
        if not isinstance(config, dict):
            raise click.ClickException(f"{config_file} must hold a JSON object")
    if cache_dir is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        cache_dir = user_cache_dir(database, Path(base) / "asr")
    try:
        flask_app = create_app(database, config=config, cache_dir=cache_dir)
        check_project(flask_app.extensions["asr"].db, database)
    except (DatabaseOpenError, ConfigError) as err:
        raise click.ClickException(str(err)) from None
    # A queue in front of busy threads is normal under load (it shows as
    # latency); waitress would log a warning for every request that waits.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        server = create_server(
            flask_app, host=host, port=port, threads=threads, ident="asr app"
        )
    except OSError as err:
        raise click.ClickException(_listen_error(host, port, err)) from None
    click.echo(
        f"Serving {database} on http://{host}:{port}/ with {threads} threads "
        "(Ctrl-C to stop)"
    )
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.close()


def _listen_error(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is in use (another server?): "
            "choose another with --port"
        )
    if err.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: choose one above 1023"
    reason = err.strerror or str(err)
    return f"cannot listen on {host}:{port}: {reason}"
