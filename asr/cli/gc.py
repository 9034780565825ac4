"""`asr gc`: move loose objects and index entries into packs."""

from __future__ import annotations

import click
from rich.text import Text

from asr.store.pack import gc as pack_store

from .common import console, open_store, progress_bar


@click.command()
@click.option("--repack", is_flag=True, help="Also merge the existing packs into one.")
def gc(repack: bool) -> None:
    """Pack the store (safe while other processes write to it)."""
    store = open_store()
    loose = sum(1 for _ in store.iter_loose_object_ids())
    with progress_bar("Packing objects", loose) as advance:
        report = pack_store(store, repack=repack, progress=advance)
    out = console()
    if report.packed_objects:
        merged = f", merging {report.packs_merged} packs" if report.packs_merged else ""
        out.print(
            f"Packed {report.packed_objects} objects{merged};"
            f" removed {report.removed_loose} loose copies."
        )
    else:
        out.print("No loose objects to pack.")
    if report.index_entries:
        out.print(f"Packed the index: {report.index_entries} entries.")
    if report.packed_refs:
        out.print(f"Packed {report.packed_refs} loose refs.")
    if report.removed_batches:
        out.print(f"Removed {report.removed_batches} batch tables no ref names.")
    if report.removed_locks:
        out.print(f"Removed {report.removed_locks} lock files of processes gone.")
    if report.skipped_corrupt:
        out.print(
            Text(
                f"Skipped {report.skipped_corrupt} corrupt loose objects:"
                " run `asr fsck`.",
                style="yellow",
            ),
            soft_wrap=True,
        )
