"""A read-only web app over an ASR project database (an ASE database).

Search rows with ASE's query language and filter widgets; a material's page
shows its structure, a Summary, and one panel per Record bundled in its row
(the Result's ``webpanel()`` and figures), with the Records behind each.
`asr app project.db` serves it; `create_app(path)` makes the Flask app.
"""

from .app import create_app
from .config import AppConfig, ConfigError
from .db import DatabaseOpenError, open_database

__all__ = [
    "AppConfig",
    "ConfigError",
    "DatabaseOpenError",
    "create_app",
    "open_database",
]
