"""The store on disk: the `.asr/` folder.

Layout (every file is written once, atomically; only refs are replaced)::

    .asr/format                      "asr-store 1"
    .asr/objects/ab/cdef...          loose objects (fsynced)
    .asr/objects/pack/<id>.table     pack index: object id -> offset, length
    .asr/objects/pack/<name>.pack    objects back to back
    .asr/refs/ab/cdef...             uid -> newest revision id (loose)
    .asr/refs/packed/<id>.table      uid -> revision id (bulk imports)
    .asr/refs/batch/<id>.table       uid -> revision id (refs moved in a batch,
                                     whose loose refs name it: refbatch.py)
    .asr/index/x/ab/<key><uid>       exact-argument entries (empty files; the
                                     name is the key's last 30 digits + uid)
    .asr/index/s/ab/<shape>/<uid>    same-shape entries (the float vector)
    .asr/index/packed/<id>.table     packed index segments
    .asr/locks/                      lock files (see files.FileLock)

A loose ref overrides a packed one. Loose objects and index entries are
moved into packs and segments by `gc`, which deletes a loose copy only after
the pack that holds it is committed (its table renamed into place).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

import numpy as np

from . import tables
from .base import BaseStore
from .errors import NoStoreError, ObjectNotFoundError, RefConflictError, StoreError
from .files import (
    FileLock,
    create_empty,
    is_tmp,
    listdir,
    read_bytes,
    remove,
    write_atomic,
)
from .ids import ObjectId, Uid, digest
from .refbatch import batch_ref, move_refs

STORE_DIR = ".asr"
FORMAT_LINE = "asr-store 1\n"
TOMBSTONE = b"deleted\n"


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding `.asr/`, searched from `start` upwards like Git."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STORE_DIR / "format").is_file():
            return folder
    raise NoStoreError(
        f"no ASR store in {here} or any folder above it: run `asr init` first"
    )


def init_store(folder: str | os.PathLike = ".") -> DiskStore:
    """Create `.asr/` in `folder` (harmless if it exists) and open it."""
    root = Path(folder).resolve() / STORE_DIR
    for sub in (
        "objects/pack",
        "refs/packed",
        "index/x",
        "index/s",
        "index/packed",
        "locks",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if not (root / "format").exists():
        write_atomic(root / "format", FORMAT_LINE.encode())
    return DiskStore(root)


def open_store(start: str | os.PathLike | None = None) -> DiskStore:
    """Open the store of `start` or the nearest folder above it."""
    return DiskStore(find_root(start) / STORE_DIR)


def _fan(folder: Path, hexid: str) -> Path:
    return folder / hexid[:2] / hexid[2:]


def _walk_fanned(folder: Path) -> Iterator[tuple[str, str]]:
    """(id, path) of every `folder/ab/cdef...` entry."""
    for top in sorted(listdir(folder)):
        if len(top) != 2:
            continue
        sub = f"{folder}/{top}"
        for name in listdir(sub):
            if not is_tmp(name) and not name.endswith(".lock"):
                yield top + name, f"{sub}/{name}"


class DiskStore(BaseStore):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        fmt = self.root / "format"
        try:
            line = fmt.read_text()
        except FileNotFoundError:
            raise NoStoreError(f"{self.root} is not an ASR store") from None
        if line != FORMAT_LINE:
            raise StoreError(f"{fmt}: unknown store format {line.strip()!r}")
        self.objects_dir = self.root / "objects"
        self.pack_dir = self.objects_dir / "pack"
        self.refs_dir = self.root / "refs"
        self.index_dir = self.root / "index"
        # Hot paths build file names from these strings (pathlib is slow).
        self._objects_str = os.fspath(self.objects_dir)
        self._refs_str = os.fspath(self.refs_dir)
        self._exact_str = os.fspath(self.index_dir / "x")
        self._shape_str = os.fspath(self.index_dir / "s")
        self._packs = tables.TableCache(self.pack_dir)
        self._packed_refs = tables.TableCache(self.refs_dir / "packed")
        self._segments = tables.TableCache(self.index_dir / "packed")
        self._pack_fds: dict[str, int] = {}
        self._batch_tables: dict[str, tables.Table] = {}  # see refbatch.py
        self.durable = True

    def __repr__(self) -> str:
        return f"DiskStore({str(self.root)!r})"

    def close(self) -> None:
        for fd in self._pack_fds.values():
            os.close(fd)
        self._pack_fds.clear()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def refresh(self) -> None:
        for cache in (self._packs, self._packed_refs, self._segments):
            cache.tables(refresh=True)

    # -- objects ------------------------------------------------------------

    def loose_path(self, oid: str) -> Path:
        return _fan(self.objects_dir, oid)

    def _loose(self, oid: str) -> str:
        return f"{self._objects_str}/{oid[:2]}/{oid[2:]}"

    def _add_raw(self, oid, data):
        path = self._loose(oid)
        if os.path.exists(path) or self._find_packed(oid) is not None:
            return
        write_atomic(path, data, durable=self.durable)

    def _find_packed(self, oid: str, refresh: bool = False):
        found = self._packs.find(bytes.fromhex(oid), refresh)
        return found[0] if found else None

    def _read_packed(self, table: tables.Table, row: int) -> tuple[bytes, str]:
        name = table.meta["pack"]
        fd = self._pack_fds.get(name)
        if fd is None:
            fd = self._pack_fds[name] = os.open(self.pack_dir / name, os.O_RDONLY)
        offset = int(table.columns["offset"][row])
        length = int(table.columns["length"][row])
        return os.pread(fd, length, offset), f"pack {name} at {offset}"

    def _get_raw(self, oid):
        for refresh in (False, True):
            path = self._loose(oid)
            try:
                return read_bytes(path), path
            except FileNotFoundError:
                pass
            found = self._find_packed(oid, refresh)
            if found is not None:
                with contextlib.suppress(FileNotFoundError):  # repacked away
                    return self._read_packed(*found)
        raise ObjectNotFoundError(f"no object {oid} in {self.root}")

    def has(self, oid):
        return os.path.exists(self._loose(oid)) or self._find_packed(oid) is not None

    def iter_loose_object_ids(self) -> Iterator[ObjectId]:
        for hexid, _path in _walk_fanned(self.objects_dir):
            if len(hexid) == 32:
                yield ObjectId(hexid)

    def iter_object_ids(self) -> Iterator[ObjectId]:
        seen = set()
        for oid in self.iter_loose_object_ids():
            seen.add(oid)
            yield oid
        for table in self._packs.tables():
            for row in range(len(table)):
                oid = ObjectId(table.key(row))
                if oid not in seen:
                    seen.add(oid)
                    yield oid

    def _object_ids_with_prefix(self, prefix):
        found = {
            ObjectId(prefix[:2] + name)
            for name in listdir(self.objects_dir / prefix[:2])
            if name.startswith(prefix[2:]) and len(name) == 30
        }
        raw = bytes.fromhex(prefix[: len(prefix) // 2 * 2])
        for table in self._packs.tables():
            for row in table.prefix_rows(raw):
                oid = table.key(row).hex()
                if oid.startswith(prefix):
                    found.add(ObjectId(oid))
        return found

    # -- refs ---------------------------------------------------------------

    def _ref_path(self, uid: str) -> Path:
        return _fan(self.refs_dir, uid)

    def _packed_ref(self, uid: str) -> ObjectId | None:
        found = self._packed_refs.find(bytes.fromhex(uid))
        if not found:
            return None
        last = found[-1][0]  # the last table that has it, its first row
        row = next(row for table, row in found if table is last)
        return ObjectId(last.columns["oid"][row].tobytes())

    def get_ref(self, uid):
        try:
            text = read_bytes(f"{self._refs_str}/{uid[:2]}/{uid[2:]}")
        except FileNotFoundError:
            return self._packed_ref(uid)
        except NotADirectoryError:
            return None
        return self._parse_ref(uid, text)

    def _parse_ref(self, uid: str, text: bytes) -> ObjectId | None:
        """A loose ref's content: an object id, a tombstone or a batch line."""
        if len(text) <= 34:
            return None if text == TOMBSTONE else ObjectId(text.decode().strip())
        return batch_ref(self, uid, text)

    def _set_ref(self, uid, oid, expected):
        # The lock file holds the new ref and is renamed over it (as Git does).
        path = self._ref_path(uid)
        lock = FileLock(
            path.with_name(path.name + ".lock"),
            timeout=60,
            heartbeat=None,
            content=f"{oid}\n".encode(),
        )
        lock.acquire()
        try:
            current = self.get_ref(uid)
            if current != expected:
                raise RefConflictError(
                    f"ref {uid} is at {current}, expected {expected}"
                )
        except BaseException:
            lock.release()
            raise
        lock.replace(path)

    def _set_new_ref(self, uid, oid):
        # A uid drawn at random just now: nobody else can be writing its ref.
        path = f"{self._refs_str}/{uid[:2]}/{uid[2:]}"
        write_atomic(path, f"{oid}\n".encode(), durable=False)

    def _move_refs(self, moves):
        if len({uid for uid, _oid, _expected in moves}) < len(moves):
            return super()._move_refs(moves)  # a uid twice: one by one
        return move_refs(self, moves)

    def delete_ref(self, uid):
        path = self._ref_path(uid)
        with FileLock(
            path.with_name(path.name + ".lock"),
            timeout=60,
            stale_after=60,
            heartbeat=None,
        ):
            if self._packed_ref(uid) is not None:
                write_atomic(path, TOMBSTONE, durable=False)
            else:
                remove(path)

    def iter_refs(self) -> Iterator[tuple[Uid, ObjectId]]:
        loose = {}
        for hexid, path in _walk_fanned(self.refs_dir):
            if len(hexid) != 32:
                continue
            with contextlib.suppress(FileNotFoundError):
                loose[hexid] = read_bytes(path)
        for uid, text in sorted(loose.items()):
            oid = self._parse_ref(uid, text)
            if oid is not None:
                yield Uid(uid), oid
        seen = set(loose)
        for table in reversed(self._packed_refs.tables()):
            uids = table.keys.tobytes()  # 16 bytes a row, zeros kept
            oids = table.columns["oid"].tobytes()
            for start in range(0, len(uids), 16):
                uid = Uid(uids[start : start + 16])
                if uid not in seen:
                    seen.add(uid)
                    yield uid, ObjectId(oids[start : start + 16])

    def _uids_with_prefix(self, prefix):
        found = {
            Uid(prefix[:2] + name)
            for name in listdir(self.refs_dir / prefix[:2])
            if name.startswith(prefix[2:]) and len(name) == 30
        }
        raw = bytes.fromhex(prefix[: len(prefix) // 2 * 2])
        for table in self._packed_refs.tables():
            for row in table.prefix_rows(raw):
                uid = table.key(row).hex()
                if uid.startswith(prefix):
                    found.add(Uid(uid))
        return {uid for uid in found if self.get_ref(uid) is not None}

    # -- index --------------------------------------------------------------

    def _shape_dir(self, shape: bytes) -> Path:
        return _fan(self.index_dir / "s", shape.hex())

    def _index_add(self, uid, terms):
        shape, exact = terms.shape.hex(), terms.exact.hex()
        shape_entry = f"{self._shape_str}/{shape[:2]}/{shape[2:]}/{uid}"
        floats = terms.floats.tobytes()
        try:
            current = read_bytes(shape_entry)
        except FileNotFoundError:
            current = None
        if current != floats:  # new, or a new revision's floats
            write_atomic(shape_entry, floats, durable=False)
        # One flat name per entry (no folder per key to make, list and
        # remove), and a hard link to the shape entry: only the name is ever
        # read, and a link costs no inode (making inodes is the dear part of
        # a commit). Without the shape entry (gc took it), an empty file.
        exact_entry = f"{self._exact_str}/{exact[:2]}/{exact[2:]}{uid}"
        try:
            os.link(shape_entry, exact_entry)
        except FileExistsError:
            pass
        except OSError:  # no shape entry or folder, or no hard links here
            create_empty(exact_entry)

    def _index_exact(self, key):
        hexkey = key.hex()
        rest = hexkey[2:]
        found = {
            Uid(name[30:])
            for name in listdir(f"{self._exact_str}/{hexkey[:2]}")
            if len(name) == 62 and name.startswith(rest)
        }
        for table, row in self._segments.find(key):
            found.add(Uid(table.columns["uid"][row].tobytes()))
        return found

    def _index_shape(self, shape):
        uids: list[Uid] = []
        vectors: list[np.ndarray] = []
        folder = self._shape_dir(shape)
        for name in listdir(folder):
            if is_tmp(name):
                continue
            with contextlib.suppress(FileNotFoundError):
                vectors.append(np.frombuffer(read_bytes(folder / name), "<f8"))
                uids.append(Uid(name))
        for table in self._segments.tables():
            segment_uids, segment_vectors = _segment_shape_rows(table, shape)
            uids += segment_uids
            vectors += segment_vectors
        return uids, vectors

    def _shape_blocks(self, shape, length):
        hexshape = shape.hex()
        folder = f"{self._shape_str}/{hexshape[:2]}/{hexshape[2:]}"
        uids: list[Uid] = []
        vectors: list[bytes] = []
        for name in listdir(folder):
            if is_tmp(name):
                continue
            try:
                data = read_bytes(f"{folder}/{name}")
            except FileNotFoundError:
                continue
            if len(data) == 8 * length:
                uids.append(Uid(name))
                vectors.append(data)
        if uids:
            matrix = np.frombuffer(b"".join(vectors), "<f8")
            yield uids, matrix.reshape(len(uids), length)
        for table in self._segments.tables():
            block = _segment_shape_block(table, shape, length)
            if block is not None:
                yield block

    def iter_loose_index(self) -> Iterator[tuple[str, bytes, Uid, str]]:
        """(kind 'x' or 's', key, uid, path) of every loose index entry."""
        for hexid, path in _walk_fanned(self.index_dir / "x"):
            if len(hexid) == 64:  # key + uid
                yield "x", bytes.fromhex(hexid[:32]), Uid(hexid[32:]), path
        for hexkey, folder in _walk_fanned(self.index_dir / "s"):
            for name in listdir(folder):
                if not is_tmp(name) and len(name) == 32:
                    yield "s", bytes.fromhex(hexkey), Uid(name), f"{folder}/{name}"

    def reindex(self) -> int:
        from .pack import rebuild_index

        return rebuild_index(self)

    # -- locks and batches ----------------------------------------------------

    def lock(self, name: str, timeout: float | None = None) -> FileLock:
        path = self.root / "locks" / (digest(name.encode()).hex() + ".lock")
        return FileLock(path, timeout=timeout)

    def bulk(self):
        from .pack import BulkWriter

        return BulkWriter(self)


def _segment_shape_rows(
    table: tables.Table, shape: bytes
) -> tuple[list[Uid], list[np.ndarray]]:
    """Same-shape rows of an index segment: a second sorted key column."""
    columns = table.columns
    shapes = columns["shape_key"].view("S16").ravel()
    lo = int(np.searchsorted(shapes, shape, "left"))
    hi = int(np.searchsorted(shapes, shape, "right"))
    start, length, floats = (
        columns["float_start"],
        columns["float_length"],
        columns["floats"],
    )
    uid_column = columns["shape_uid"]
    uids = [Uid(uid_column[row].tobytes()) for row in range(lo, hi)]
    vectors = [floats[start[row] : start[row] + length[row]] for row in range(lo, hi)]
    return uids, vectors


def _segment_shape_block(
    table: tables.Table, shape: bytes, length: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Same-shape rows of an index segment with `length` floats, as arrays.

    Returns (raw uids (n, 16), floats (n, length)); the floats are a view
    into the segment when its rows are back to back (they are, as written).
    """
    columns = table.columns
    shapes = columns["shape_key"].view("S16").ravel()
    lo = int(np.searchsorted(shapes, shape, "left"))
    hi = int(np.searchsorted(shapes, shape, "right"))
    if lo == hi:
        return None
    start = columns["float_start"][lo:hi]
    same = columns["float_length"][lo:hi] == length
    floats = columns["floats"]
    if same.all() and (hi - lo == 1 or (np.diff(start) == length).all()):
        first = int(start[0])
        matrix = floats[first : first + (hi - lo) * length]
        return columns["shape_uid"][lo:hi], matrix.reshape(hi - lo, length)
    rows = np.flatnonzero(same)
    if not len(rows):
        return None
    matrix = floats[start[rows][:, None] + np.arange(length)]
    return columns["shape_uid"][lo:hi][rows], matrix.reshape(len(rows), length)


def segment_entries(
    table: tables.Table,
) -> tuple[list[tuple[bytes, Uid]], list[tuple[bytes, Uid, np.ndarray]]]:
    """All exact and shape entries of an index segment."""
    columns = table.columns
    exact = [
        (table.key(row), Uid(columns["uid"][row].tobytes()))
        for row in range(len(table))
    ]
    start, length, floats = (
        columns["float_start"],
        columns["float_length"],
        columns["floats"],
    )
    shape = [
        (
            columns["shape_key"][row].tobytes(),
            Uid(columns["shape_uid"][row].tobytes()),
            floats[start[row] : start[row] + length[row]],
        )
        for row in range(len(columns["shape_key"]))
    ]
    return exact, shape


def index_segment(
    exact: list[tuple[bytes, Uid]], shape: list[tuple[bytes, Uid, np.ndarray]]
) -> tables.Table:
    """An index segment: exact keys -> uid, and shape keys -> (uid, floats).

    The shape rows are a second table in the same file, sorted by shape key,
    with every float vector in one flat array.
    """
    shape = sorted(shape, key=itemgetter(0))
    vectors = [np.asarray(v, "<f8") for _s, _u, v in shape]
    lengths = np.fromiter(map(len, vectors), np.int64, len(vectors))
    starts = np.cumsum(lengths) - lengths
    floats = np.concatenate(vectors) if vectors else np.zeros(0, "<f8")
    return tables.build(
        "index",
        [key for key, _uid in exact],
        {"uid": tables.hex16_column(uid for _key, uid in exact)},
        unsorted={
            "shape_key": tables.bytes16_column([s for s, _u, _v in shape]),
            "shape_uid": tables.hex16_column(u for _s, u, _v in shape),
            "float_start": starts,
            "float_length": lengths,
            "floats": floats,
        },
    )
