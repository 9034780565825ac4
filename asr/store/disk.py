"""The store on disk: the `.asr/` folder.

Layout (every file is written once, atomically; only refs are replaced)::

    .asr/format                      "asr-store 1"
    .asr/objects/ab/cdef...          loose objects (fsynced)
    .asr/objects/pack/<id>.table     pack index: object id -> offset, length
    .asr/objects/pack/<name>.pack    objects back to back
    .asr/refs/ab/cdef...             uid -> newest revision id (loose)
    .asr/refs/packed/<id>.table      uid -> revision id (bulk imports, gc)
    .asr/refs/batch/<id>.table       uid -> revision id (refs moved in a batch,
                                     whose loose refs name it: refbatch.py)
    .asr/log/<host>-<pid>-<rand>.log commit logs: one per writing process,
                                     frames of record + index terms + new ref
    .asr/index/packed/<id>.table     packed index segments
    .asr/trash/<gc run>/             packed loose copies, being removed
    .asr/locks/                      lock files (see files.FileLock)

A loose ref overrides a packed one, which overrides one in a log (a log
holds only a record's first ref, which a packed one equals or has moved on
from). Loose objects, logs and loose refs are moved into packs, segments
and packed refs by `gc`, which deletes a loose copy, a log or a loose ref
only after what it holds is committed elsewhere (the tables renamed into
place).
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from . import log, tables
from .base import BaseStore
from .errors import (
    NoStoreError,
    ObjectNotFoundError,
    RefConflictError,
    StoreError,
    StoreWarning,
)
from .files import (
    FileLock,
    is_tmp,
    listdir,
    read_bytes,
    write_atomic,
)
from .ids import ObjectId, Uid, digest
from .maintenance import TOMBSTONE
from .objects import verify
from .refbatch import batch_ref, move_refs, unsettled

STORE_DIR = ".asr"
FORMAT_LINE = "asr-store 1\n"


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
        "log",
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


def _held_by(keys: np.ndarray, held: list[tables.Table]) -> np.ndarray:
    """Which of `keys` (dtype S16) any of the tables `held` has."""
    found = np.zeros(len(keys), bool)
    for table in held:
        if len(table) and len(keys):
            rows = np.searchsorted(table.keys, keys).clip(max=len(table) - 1)
            found |= table.keys[rows] == keys
    return found


class DiskStore(BaseStore):
    """A store in a `.asr/` folder; provides `maintenance.Maintained`."""

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
        self.log_dir = self.root / "log"
        # Hot paths build file names from these strings (pathlib is slow).
        self._objects_str = os.fspath(self.objects_dir)
        self._refs_str = os.fspath(self.refs_dir)
        self._log = log.LogView(self.log_dir)
        self._log_writer = log.LogWriter(self.log_dir)
        self._packs = tables.TableCache(self.pack_dir)
        self._packed_refs = tables.TableCache(self.refs_dir / "packed")
        self._segments = tables.TableCache(self.index_dir / "packed")
        self._pack_fds: dict[str, int] = {}
        self._batch_tables: dict[str, tables.Table] = {}  # see refbatch.py
        # The same tables, to find refs whose loose file was lost: one that
        # cannot be read only costs the refs that name it (fsck says so).
        self._batched = tables.TableCache(self.refs_dir / "batch")
        self._batched.skip_damaged = True
        self._view = threading.local()  # see `one_view`
        self.durable = True

    def __repr__(self) -> str:
        return f"DiskStore({str(self.root)!r})"

    def close(self) -> None:
        for fd in self._pack_fds.values():
            os.close(fd)
        self._pack_fds.clear()
        self._log.close()
        self._log_writer.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def refresh(self) -> None:
        # Tables are listed again (and new ones loaded) when next used, not
        # now: a bulk writer refreshes after each batch, and loading every
        # index segment a migration writes would keep them all in memory.
        for cache in (self._packs, self._packed_refs, self._segments, self._batched):
            cache.forget()
        self._log.refresh()

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
        key = bytes.fromhex(oid)
        # An object is the same in every pack: a hit in the packs loaded
        # already is right, and only a miss lists the folder again.
        found = None if refresh else self._packs.find_loaded(key)
        found = found or self._packs.find(key, refresh)
        return found[0] if found else None

    def _pack_fd(self, name: str) -> int:
        """The open file of pack `name` (opened once, kept until `close`)."""
        fd = self._pack_fds.get(name)
        if fd is None:
            fd = self._pack_fds[name] = os.open(self.pack_dir / name, os.O_RDONLY)
        return fd

    def _read_packed(self, table: tables.Table, row: int) -> tuple[bytes, str]:
        name = table.meta["pack"]
        fd = self._pack_fd(name)
        offset = int(table.columns["offset"][row])
        length = int(table.columns["length"][row])
        return os.pread(fd, length, offset), f"pack {name} at {offset}"

    def get_many_bytes(self, oids, on_error=None):
        """Objects in packs are read in pack order, a run of neighbours with
        one `pread` (a selection over a packed store reads it front to back);
        the others one by one. `_BATCH` objects at a time, so memory stays
        flat however many are asked for."""
        batch: list[str] = []
        for oid in oids:
            batch.append(oid)
            if len(batch) == _BATCH:
                yield from self._read_batch(batch, on_error)
                batch = []
        if batch:
            yield from self._read_batch(batch, on_error)

    def _read_batch(self, oids: list[str], on_error) -> Iterator[tuple]:
        keys = np.frombuffer(bytes.fromhex("".join(oids)), "S16")
        left = np.ones(len(oids), bool)
        spans = []  # (table, offset, length, oid) of objects found in a pack
        for table in self._packs.tables():
            if not left.any():
                break
            if not len(table):
                continue
            wanted = np.flatnonzero(left)
            rows = np.minimum(table.keys.searchsorted(keys[wanted]), len(table) - 1)
            found = table.keys[rows] == keys[wanted]
            left[wanted[found]] = False
            columns, hits = table.columns, rows[found]
            spans += [
                (table, offset, length, oids[i])
                for offset, length, i in zip(
                    columns["offset"][hits].tolist(),
                    columns["length"][hits].tolist(),
                    wanted[found].tolist(),
                )
            ]
        spans.sort(key=lambda span: (span[0].meta["pack"], span[1]))
        unread = [oids[i] for i in np.flatnonzero(left).tolist()]
        for run in _runs(spans):
            try:
                yield from self._read_run(run, on_error)
            except FileNotFoundError:  # repacked away meanwhile
                unread += [oid for *_, oid in run]
        yield from super().get_many_bytes(unread, on_error)

    def _read_run(self, run: list, on_error) -> Iterator[tuple[ObjectId, bytes]]:
        """Neighbouring objects of one pack, read with one `pread`."""
        name = run[0][0].meta["pack"]
        start = run[0][1]
        data = os.pread(self._pack_fd(name), run[-1][1] + run[-1][2] - start, start)
        view = memoryview(data)
        for _table, offset, length, oid in run:
            part = bytes(view[offset - start : offset - start + length])
            try:
                verify(oid, part, f"pack {name} at {offset}")
            except StoreError as err:
                if on_error is None:
                    raise
                on_error(ObjectId(oid), err)
                continue
            yield oid if type(oid) is ObjectId else ObjectId(oid), part

    # -- the maintenance interface (maintenance.Maintained) -------------------

    def loose_object_file(self, oid: str) -> str:
        return self._loose(oid)

    def pack_names(self) -> list[str]:
        return self._packs.names()

    def pack_tables(self, refresh: bool = False) -> list[tables.Table]:
        return self._packs.tables(refresh)

    def read_packed(self, table: tables.Table, row: int) -> bytes:
        return self._read_packed(table, row)[0]

    def loose_ref_path(self, uid: str) -> Path:
        return self._ref_path(uid)

    def loose_ref_file(self, uid: str) -> str:
        return self._loose_ref(uid)

    def parse_ref(self, uid: str, text: bytes) -> ObjectId | None:
        return self._parse_ref(uid, text)

    def packed_ref_names(self) -> list[str]:
        return self._packed_refs.names()

    def segment_names(self) -> list[str]:
        return self._segments.names()

    def index_uids(self, exact: bytes) -> set[Uid]:
        return self._index_exact(exact)

    def index_lacks(self, pairs: list[tuple[bytes, Uid]]) -> list[Uid]:
        # One sorted match of all pairs against each segment's rows, not a
        # lookup per pair: fsck asks this for every head of the store.
        self._refresh_index()
        logged = self._log.exact
        left = [(e, u) for e, u in pairs if u not in logged.get(e, ())]
        odd = [u for e, u in left if len(e) != 16]  # no segment has such keys
        left = [(e, u) for e, u in left if len(e) == 16]
        if not left:
            return odd
        wanted = np.frombuffer(b"".join(e + bytes.fromhex(u) for e, u in left), "V32")
        found = np.zeros(len(left), bool)
        for table in self._segments.tables():
            rows = np.empty((len(table), 32), np.uint8)
            rows[:, :16] = np.frombuffer(table.keys.tobytes(), np.uint8).reshape(-1, 16)
            rows[:, 16:] = np.asarray(table.columns["uid"], np.uint8).reshape(-1, 16)
            found |= np.isin(wanted, rows.view("V32").ravel())
        return odd + [u for (_e, u), hit in zip(left, found) if not hit]

    @contextlib.contextmanager
    def skipping_damaged_tables(self) -> Iterator[None]:
        caches = (self._packs, self._packed_refs, self._segments)
        for cache in caches:
            cache.skip_damaged = True
        self.refresh()
        try:
            yield
        finally:
            for cache in caches:
                cache.skip_damaged = False

    def _add_record(self, uid, oid, data, index, new_ref):
        # One frame in this process's log: object, index terms and new ref
        # become visible together, with one sync.
        frame = log.encode_frame(
            oid=oid, data=data, uid=uid, terms=index, new_ref=new_ref
        )
        self._log_writer.append(frame, durable=self.durable)

    def _get_raw(self, oid):
        for refresh in (False, True):
            with contextlib.suppress(FileNotFoundError):  # folded meanwhile
                found = self._log.read(oid)
                if found is not None:
                    return found
            path = self._loose(oid)
            try:
                return read_bytes(path), path
            except FileNotFoundError:
                pass
            found = self._find_packed(oid, refresh)
            if found is not None:
                with contextlib.suppress(FileNotFoundError):  # repacked away
                    return self._read_packed(*found)
            self._log.refresh()
        raise ObjectNotFoundError(f"no object {oid} in {self.root}")

    def has(self, oid):
        if oid in self._log.objects or os.path.exists(self._loose(oid)):
            return True
        if self._find_packed(oid) is not None:
            return True
        self._log.refresh()
        return oid in self._log.objects

    def locate(self, oid: str) -> tuple[Path, int, int]:
        """(file, offset, length) of an object's bytes: loose, logged or packed."""
        self._log.refresh()
        found = self._log.path_of(oid)
        if found is not None:
            return found
        path = self.loose_path(oid)
        if path.exists():
            return path, 0, path.stat().st_size
        packed = self._find_packed(oid, refresh=True)
        if packed is None:
            raise ObjectNotFoundError(f"no object {oid} in {self.root}")
        table, row = packed
        offset = int(table.columns["offset"][row])
        length = int(table.columns["length"][row])
        return self.pack_dir / table.meta["pack"], offset, length

    def iter_loose_files(self) -> Iterator[ObjectId]:
        """Objects stored as files of their own (`objects/ab/cdef...`)."""
        for hexid, _path in _walk_fanned(self.objects_dir):
            if len(hexid) == 32:
                yield ObjectId(hexid)

    def iter_loose_object_ids(self) -> Iterator[ObjectId]:
        """Objects not yet in a pack: loose files, and objects in logs."""
        yield from self.iter_loose_files()
        self._log.refresh()
        yield from list(self._log.objects)

    def iter_object_ids(self) -> Iterator[ObjectId]:
        seen: set[ObjectId] = set()
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
        self._log.refresh()
        found |= {oid for oid in self._log.objects if oid.startswith(prefix)}
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

    def _loose_ref(self, uid: str) -> str:
        """The path of a loose ref, as a string (for hot paths)."""
        return f"{self._refs_str}/{uid[:2]}/{uid[2:]}"

    def loose_ref_texts(self) -> Iterator[tuple[str, bytes]]:
        """(uid, text) of every loose ref: a head, a batch line or a tombstone."""
        for hexid, path in _walk_fanned(self.refs_dir):
            if len(hexid) == 32:
                with contextlib.suppress(FileNotFoundError):
                    yield hexid, read_bytes(path)

    def _packed_ref(self, uid: str) -> ObjectId | None:
        found = self._packed_refs.find(bytes.fromhex(uid))
        if not found:
            return None
        last = found[-1][0]  # the last table that has it, its first row
        row = next(row for table, row in found if table is last)
        return ObjectId(last.columns["oid"][row].tobytes())

    def get_ref(self, uid):
        try:
            text = read_bytes(self._loose_ref(uid))
        except FileNotFoundError:
            # Packed before logged: a log holds only a record's first ref,
            # which a packed ref equals or (folded from a loose ref by gc)
            # has moved on from, while the log may still be read.
            found = self._packed_ref(uid) or self._log.refs.get(uid)
            if found is None:  # perhaps just committed by another process,
                self._log.refresh()  # or just folded from a log by gc
                found = self._packed_ref(uid) or self._log.refs.get(uid)
            if uid in self._log.revisions:  # rare: a revision with no loose ref
                found = self._newest_logged(uid, found)
            if found is not None:  # rare: a batch's ref whose file was lost
                found = self._newest_batched(uid, found)
            return found
        except NotADirectoryError:
            return None
        return self._parse_ref(uid, text)

    def _newest_logged(self, uid: str, found: ObjectId | None) -> ObjectId | None:
        """`found`, or the newest revision after it in a sealed log.

        A revision in a sealed log that names the ref's target as parent
        means the ref moved there and its loose file was lost: the revision
        chain says which revision is the newest, never the stale one.
        """
        sealed = self._log.sealed_revisions(uid)
        if not sealed or found is None:
            return found
        parents = {}
        for oid in sealed:
            with contextlib.suppress(StoreError):
                parents.setdefault(self.get(oid).parent, []).append(oid)
        head = found
        while head in parents:
            newer = parents[head]
            if len(newer) > 1:
                raise StoreError(
                    f"the ref of {uid} is missing and its newest revision is one"
                    f" of {', '.join(newer)}; run asr fsck --repair"
                )
            head = newer[0]
        if head != found:
            warnings.warn(
                f"the ref of {uid} was lost: read its newest revision {head} from"
                " its revision chain; run asr fsck --repair",
                StoreWarning,
                stacklevel=3,
            )
        return head

    def _newest_batched(self, uid: str, found: ObjectId) -> ObjectId:
        """`found`, or a revision after it that a finished batch moved to.

        A batch table's row whose revision names the ref's target as parent
        means the batch moved the ref there and its loose file was lost;
        a batch being moved or stopped partway proves nothing (its row may
        never have moved).
        """
        if not self._batched.find(bytes.fromhex(uid)):
            return found
        # The tables first, then the head files (as gc does): a table listed
        # had its head file before, so a batch still moving is seen busy.
        named = self._batched.named()
        busy = unsettled(self)
        moved = {
            ObjectId(table.columns["oid"][row].tobytes()): name
            for name, table in named.items()
            if name.removesuffix(tables.SUFFIX) not in busy
            for row in table.rows(bytes.fromhex(uid))
        }
        head = found
        while True:
            newer = [oid for oid in moved if self._parent_in(uid, oid) == head]
            if len(newer) != 1:
                break
            head = newer[0]
        if head != found:
            warnings.warn(
                f"the ref of {uid} was lost: {moved[head]} moved it to {head},"
                f" but its file {self._loose_ref(uid)} is missing; read that"
                " revision; run asr fsck --repair",
                StoreWarning,
                stacklevel=3,
            )
        return head

    def _parent_in(self, uid: str, oid: ObjectId) -> ObjectId | None:
        """The parent of revision `oid` of record `uid`, if it is one."""
        try:
            obj = self.get(oid)
        except StoreError:
            return None
        return obj.parent if obj.kind == "record" and obj.uid == uid else None

    def _parse_ref(self, uid: str, text: bytes) -> ObjectId | None:
        """A loose ref's content: an object id, a tombstone or a batch line."""
        try:
            if len(text) <= 34:
                return None if text == TOMBSTONE else ObjectId(text.decode().strip())
            return batch_ref(self, uid, text)
        except ValueError:  # a damaged file: no hex id, not UTF-8, empty
            raise StoreError(
                f"damaged ref {self._loose_ref(uid)}: holds {text[:40]!r}, "
                "not an object id; run asr fsck"
            ) from None

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
            # A tombstone hides a ref in a log or a packed table.
            self._log.refresh()
            if uid in self._log.refs or self._packed_ref(uid) is not None:
                write_atomic(path, TOMBSTONE, durable=False)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def iter_refs(
        self, on_error: Callable[[str], None] | None = None
    ) -> Iterator[tuple[Uid, ObjectId]]:
        """Every (uid, head); a ref that cannot be read raises StoreError,
        or with `on_error` (fsck) is reported there and left out."""
        loose = dict(self.loose_ref_texts())
        for uid, text in sorted(loose.items()):
            try:
                oid = self._parse_ref(uid, text)
            except StoreError as err:
                if on_error is None:
                    raise
                on_error(str(err))
                continue
            if oid is not None:
                yield Uid(uid), oid
        loose_uids = set(loose)  # their texts are no longer needed
        del loose
        # Loose refs (tombstones too) hide packed and logged ones; a packed
        # ref hides a logged one and the same ref in a table before it (as
        # `get_ref` reads them). Which are hidden is worked out table by
        # table with numpy: no set of every uid (a hundred bytes a ref).
        self._log.refresh()
        logged = dict(self._log.refs)  # read before the packed refs (see get_ref)
        moves = self._batch_moves(loose_uids)  # in case a loose file was lost
        revised = self._log.revisions.keys()

        def unsure(uid: Uid, oid: ObjectId) -> bool:
            """Might a newer revision than `oid` be the head? Not where no
            batch moved `uid` elsewhere than `oid` (a batch that moved it
            there and was packed by `gc` is kept ten minutes): then no head
            object needs to be read."""
            return uid in revised or not moves.get(uid, set()) <= {oid}

        packed = self._packed_refs.tables()[::-1]
        for i, table in enumerate(packed):
            hidden = _held_by(table.keys, packed[:i])
            hidden[1:] |= table.keys[1:] == table.keys[:-1]  # the first row counts
            uids = table.keys.tobytes()  # 16 bytes a row, zeros kept
            oids = table.columns["oid"].tobytes()
            for start, hide in zip(range(0, len(uids), 16), hidden.tolist()):
                uid = Uid(uids[start : start + 16])
                if not hide and uid not in loose_uids:
                    oid = ObjectId(oids[start : start + 16])
                    if unsure(uid, oid):
                        oid = self._resolved(uid, oid, on_error)
                        if oid is None:
                            continue
                    yield uid, oid
        uids = sorted(logged)
        keys = np.array([bytes.fromhex(uid) for uid in uids], "S16")
        for uid, hide in zip(uids, _held_by(keys, packed).tolist()):
            if not hide and uid not in loose_uids:
                oid = logged[uid]
                if unsure(uid, oid):
                    oid = self._resolved(uid, oid, on_error)
                    if oid is None:
                        continue
                yield uid, oid

    def _batch_moves(self, leave_out: set) -> dict[Uid, set[ObjectId]]:
        """uid -> the revisions batch tables moved it to (uids in `leave_out`
        left out)."""
        moves: dict[Uid, set[ObjectId]] = {}
        for table in self._batched.tables():
            keys, oids = table.keys.tobytes(), table.columns["oid"].tobytes()
            for start in range(0, len(keys), 16):
                uid = Uid(keys[start : start + 16])
                if uid not in leave_out:
                    oid = ObjectId(oids[start : start + 16])
                    moves.setdefault(uid, set()).add(oid)
        return moves

    def _resolved(self, uid, oid, on_error) -> ObjectId | None:
        try:
            oid = self._newest_logged(uid, oid)
            return oid and self._newest_batched(uid, oid)
        except StoreError as err:
            if on_error is None:
                raise
            on_error(str(err))
            return None

    def _uids_with_prefix(self, prefix):
        found = {
            Uid(prefix[:2] + name)
            for name in listdir(self.refs_dir / prefix[:2])
            if name.startswith(prefix[2:]) and len(name) == 30
        }
        self._log.refresh()
        found |= {uid for uid in self._log.refs if uid.startswith(prefix)}
        raw = bytes.fromhex(prefix[: len(prefix) // 2 * 2])
        for table in self._packed_refs.tables():
            for row in table.prefix_rows(raw):
                uid = table.key(row).hex()
                if uid.startswith(prefix):
                    found.add(Uid(uid))
        return {uid for uid in found if self.get_ref(uid) is not None}

    # -- index --------------------------------------------------------------

    def _index_add(self, uid, terms):
        # Derived data, but it must be visible (on NFS: flushed) before the
        # ref moves: synced like a commit.
        frame = log.encode_frame(uid=uid, terms=terms)
        self._log_writer.append(frame, durable=self.durable)

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """Read the logs once; the index searches inside share that view.

        A cache lookup asks for the exact key, then for the tolerance
        bucket: both answer from one refresh instead of one each.
        """
        depth = getattr(self._view, "depth", 0)
        if not depth:
            self._log.refresh()
        self._view.depth = depth + 1
        try:
            yield
        finally:
            self._view.depth = depth

    def _refresh_index(self) -> None:
        if not getattr(self._view, "depth", 0):
            self._log.refresh()

    def _index_exact(self, key):
        self._refresh_index()
        found = set(self._log.exact.get(key, ()))
        for table, row in self._segments.find(key):
            found.add(Uid(table.columns["uid"][row].tobytes()))
        return found

    def _index_shape(self, shape):
        self._refresh_index()
        uids: list[Uid] = []
        vectors: list[np.ndarray] = []
        for uid, floats in self._log.shape_entries(shape):
            uids.append(uid)
            vectors.append(floats)
        for table in self._segments.tables():
            segment_uids, segment_vectors = _segment_shape_rows(table, shape)
            uids += segment_uids
            vectors += segment_vectors
        return uids, vectors

    def _shape_blocks(self, shape, length):
        self._refresh_index()
        block = self._log.shape_block(shape, length)
        if block is not None:
            yield block
        for table in self._segments.tables():
            block = _segment_shape_block(table, shape, length)
            if block is not None:
                yield block

    def log_paths(self) -> list[Path]:
        """The commit logs, being written or being folded by gc."""
        return log.log_paths(self.log_dir)

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


_BATCH = 1 << 16  # objects `get_many_bytes` looks up (and sorts) at once
_GAP = 1 << 18  # neighbours closer than this are read together ...
_RUN = 1 << 23  # ... up to this many bytes at a time


def _runs(spans: list) -> Iterator[list]:
    """Spans (table, offset, length, oid), sorted by pack and offset, cut
    into runs that one read covers: same pack, small gaps, bounded size."""
    run: list = []
    for span in spans:
        if run:
            first, last = run[0], run[-1]
            end = last[1] + last[2]
            if (
                span[0].meta["pack"] != first[0].meta["pack"]
                or span[1] - end > _GAP
                or span[1] + span[2] - first[1] > _RUN
            ):
                yield run
                run = []
        run.append(span)
    if run:
        yield run
