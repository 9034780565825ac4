"""What maintenance (gc, repack, reindex, fsck, salvage) may do to a disk store.

`DiskStore` provides `Maintained`; `pack.py`, `fsck.py` and `salvage.py`
use nothing else of it (and do not import `disk.py`). The rules every gc
must respect, whatever it does with the files listed here:

1. **Commit before delete.** A loose object, a commit log, a loose ref or
   a table is removed only after what it holds is committed elsewhere: a
   pack by its table, an index segment, a packed-refs table (with its
   `.committed` mark), each renamed into place first.
2. **Never an object.** gc removes no object a ref might reach; packed
   loose copies go to `trash/`, and only once their pack is committed.
3. **Refs by compare-and-swap, under their lock.** A loose ref is removed
   only under its lock and only if its text is still the one that was
   packed; a ref that moved meanwhile stays loose (loose overrides packed).
4. **Order, not clocks.** A batch table is removed only when its batch is
   not being moved (its head file is listed after the table) and no loose
   ref names it (`refbatch.idle_tables`).
5. **A committed refs table is recorded.** `write_packed_refs` marks each
   table it commits (`refs/packed/<id>.committed`, an empty file, made
   after the table); a merge removes an old table's mark before the table.
   So a mark without its table is damage (the table was lost), while
   objects whose refs table was never written (an import or transfer
   killed before its commit point) are only unreachable.
6. **Damage is left alone.** A table, log or ref that cannot be read is
   neither folded nor removed: fsck reports it, `fsck --repair` moves it
   into `damaged/`.
7. **One gc at a time** (`locks/gc.lock`), while any number of writers run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from .ids import ObjectId, Uid
from .tables import Table

TOMBSTONE = b"deleted\n"  # a loose ref of a deleted record: hides older refs
COMMITTED = ".committed"  # beside a packed-refs table: it was committed


class Maintained(Protocol):
    """The disk store's files, as maintenance sees them (see the module).

    Besides these, maintenance uses the porcelain every store has
    (`BaseStore`: get, has, get_ref, set_ref, iter_refs, heads, commit,
    index_add, refresh, lock).
    """

    root: Path  # .asr/
    pack_dir: Path  # objects/pack/: <id>.table + <name>.pack
    refs_dir: Path  # refs/: ab/cdef loose refs, packed/, batch/
    index_dir: Path  # index/: packed/<id>.table segments

    def loose_path(self, oid: str) -> Path:
        """The file of a loose object (which may not exist)."""

    def loose_object_file(self, oid: str) -> str:
        """`loose_path` as a string, for loops over many objects."""

    def iter_loose_files(self) -> Iterator[ObjectId]:
        """Objects stored as files of their own."""

    def pack_names(self) -> list[str]:
        """The pack tables (`<id>.table`) committed now."""

    def pack_tables(self, refresh: bool = False) -> list[Table]:
        """The pack tables, loaded; `refresh` lists the folder again."""

    def read_packed(self, table: Table, row: int) -> bytes:
        """The bytes of row `row` of a pack table's pack (not verified)."""

    def log_paths(self) -> list[Path]:
        """The commit logs, being written, sealed or being folded."""

    def loose_ref_path(self, uid: str) -> Path:
        """The file of a loose ref (which may not exist)."""

    def loose_ref_file(self, uid: str) -> str:
        """`loose_ref_path` as a string: its lock is this plus `.lock`."""

    def loose_ref_texts(self) -> Iterator[tuple[str, bytes]]:
        """(uid, text) of every loose ref: a head, a batch line or a tombstone."""

    def parse_ref(self, uid: str, text: bytes) -> ObjectId | None:
        """A loose ref's head (None for a tombstone); StoreError if damaged."""

    def packed_ref_names(self) -> list[str]:
        """The packed-refs tables (`<id>.table`) committed now."""

    def segment_names(self) -> list[str]:
        """The index segments (`<id>.table`) committed now."""

    def index_uids(self, exact: bytes) -> set[Uid]:
        """Every uid the index has under an exact key, stale ones too."""

    def index_lacks(self, pairs: list[tuple[bytes, Uid]]) -> list[Uid]:
        """The uids of `pairs` (exact key, uid) that the index does not have
        under their key: `index_uids` for many at once (fsck's, for every
        head)."""

    def skipping_damaged_tables(self) -> AbstractContextManager[None]:
        """Meanwhile, a table that cannot be read is left out of every
        lookup (fsck counts what it costs) instead of failing them all."""
