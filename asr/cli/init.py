"""`asr init`: make a store (`.asr/`) in a folder."""

from __future__ import annotations

from pathlib import Path

import click

from asr.store import init_store
from asr.store.disk import STORE_DIR

from .common import console


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False))
def init(folder: str) -> None:
    """Create an ASR store in FOLDER (default: here)."""
    existed = (Path(folder) / STORE_DIR / "format").is_file()
    store = init_store(folder)
    what = "Reinitialised existing" if existed else "Initialised empty"
    console().print(f"{what} ASR store in {store.root}", markup=False, soft_wrap=True)
