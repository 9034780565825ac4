"""`asr app DATABASE`: browse, search and present a project in the browser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


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
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file overriding the database's metadata (title, key_descriptions, "
    "default_columns, filters, panel_priority).",
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
    config_file: Path | None,
    cache_dir: Path | None,
) -> None:
    """Serve DATABASE (an ASE database of ASR results) read-only on the web."""
    from asr.webapp import ConfigError, DatabaseOpenError, create_app
    from asr.webapp.cache import user_cache_dir

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
    except (DatabaseOpenError, ConfigError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Serving {database} on http://{host}:{port}/  (Ctrl-C to stop)")
    flask_app.run(host=host, port=port, threaded=True, debug=False)
