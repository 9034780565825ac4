"""`asr cache ...`: the records cache of the store.

Subcommands are added lazily: ``cache.add_lazy("ls", "asr.cli.cache_ls:ls")``
(or in `CACHE_COMMANDS`), or with ``@cache.command()`` in this module.
"""

from __future__ import annotations

import click

from .common import LazyGroup, console, open_store

CACHE_COMMANDS: dict[str, str] = {
    "ls": "asr.cli.cache_ls:ls",
    "rm": "asr.cli.cache_ls:rm",
    "migrate": "asr.cli.migrate:migrate",
}


@click.group(cls=LazyGroup, lazy_commands=CACHE_COMMANDS)
def cache() -> None:
    """Inspect and maintain the cached records."""


@cache.command()
def reindex() -> None:
    """Rebuild the index from the refs and record heads."""
    count = open_store().reindex()
    console().print(f"Reindexed {count} records.")
