"""Commit logs: one append-only file per writing process.

A commit (the record object, its index terms and, for a new record, its ref)
is one *frame* appended to the writer's own log, then fdatasynced. That is
one system call and one sync where a file per object, ref and index entry
cost three new inodes and a sync of a new file (several times dearer).

Only the process that made a log appends to it, so no two writers ever
append to one file (which NFS would interleave). Readers read the frames
incrementally and keep them in memory; `gc` folds logs into a pack, an index
segment and a packed-refs table. To fold a log, `gc` renames it to `.fold`
first; the writer checks after every append that its log is still where it
put it, and if not writes the frame again into a new log. So a frame is
either seen by `gc` or written again, never lost.

Frame layout (little-endian)::

    "ASRL" | version u8 | flags u8 | 0 u16 | n floats u32 | n bytes u64 |
    object id | uid | exact key | shape key | check (16 bytes each) |
    floats (f8 each) | object bytes

`check` is the xxh3-128 of the header before it and the floats, so a torn
or damaged frame is never taken for index terms or a ref. The object bytes
are checked by their id on every read, like every other object.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import HOST, _make_folder, _write_all, listdir
from .ids import ObjectId, Uid, digest
from .objects import IndexTerms

MAGIC = b"ASRL"
VERSION = 1
HEADER = struct.Struct("<4sBBHIQ16s16s16s16s16s")
CHECKED = HEADER.size - 16  # the header bytes that `check` covers
HAS_OBJECT, HAS_UID, HAS_INDEX, NEW_REF = 1, 2, 4, 8
SUFFIXES = (".log", ".fold")  # written to / being folded by gc
_ZERO = bytes(16)
_sync = getattr(os, "fdatasync", os.fsync)


@dataclass(frozen=True)
class Frame:
    """One parsed frame; the object bytes stay in the file (`data_offset`)."""

    offset: int
    oid: ObjectId | None
    data_offset: int
    data_length: int
    uid: Uid | None
    terms: IndexTerms | None
    new_ref: bool


def encode_frame(
    *,
    oid: str | None = None,
    data: bytes = b"",
    uid: str | None = None,
    terms: IndexTerms | None = None,
    new_ref: bool = False,
) -> bytes:
    flags = (HAS_OBJECT if oid is not None else 0) | (HAS_UID if uid else 0)
    flags |= (HAS_INDEX if terms is not None else 0) | (NEW_REF if new_ref else 0)
    floats = b"" if terms is None else terms.floats.tobytes()
    head = HEADER.pack(
        MAGIC,
        VERSION,
        flags,
        0,
        len(floats) // 8,
        len(data),
        bytes.fromhex(oid) if oid is not None else _ZERO,
        bytes.fromhex(uid) if uid else _ZERO,
        terms.exact if terms is not None else _ZERO,
        terms.shape if terms is not None else _ZERO,
        _ZERO,
    )[:CHECKED]
    return b"".join([head, digest(head + floats), floats, data])


@dataclass
class Parsed:
    frames: list[Frame]
    end: int  # where the next frame starts (or the bad one)
    bad: bool  # a frame that is complete but damaged stops the parse


def parse_frames(buf: bytes | memoryview, base: int = 0) -> Parsed:
    """Whole frames in `buf` (which starts at file offset `base`).

    Stops before an incomplete frame (being written, or torn by a crash)
    and at a damaged one (`bad`).
    """
    frames = []
    pos, size = 0, len(buf)
    while size - pos >= HEADER.size:
        fields = HEADER.unpack_from(buf, pos)
        magic, version, flags, _, n_floats, n_data, oid, uid, exact, shape, check = (
            fields
        )
        floats_end = pos + HEADER.size + 8 * n_floats
        end = floats_end + n_data
        if magic != MAGIC or version != VERSION:
            return Parsed(frames, base + pos, True)
        if end > size:
            break
        head = bytes(buf[pos : pos + CHECKED])
        floats = bytes(buf[pos + HEADER.size : floats_end])
        if digest(head + floats) != check:
            return Parsed(frames, base + pos, True)
        terms = None
        if flags & HAS_INDEX:
            terms = IndexTerms(exact, shape, np.frombuffer(floats, "<f8"))
        frames.append(
            Frame(
                base + pos,
                ObjectId(oid) if flags & HAS_OBJECT else None,
                base + floats_end,
                n_data,
                Uid(uid) if flags & HAS_UID else None,
                terms,
                bool(flags & NEW_REF),
            )
        )
        pos = end
    return Parsed(frames, base + pos, False)


def _base(name: str) -> str | None:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def log_paths(folder: Path) -> list[Path]:
    """Every log in `folder`, being written or being folded."""
    return [Path(folder) / name for name in sorted(listdir(folder)) if _base(name)]


class LogWriter:
    """Appends frames to this process's own log in `folder`."""

    def __init__(self, folder: Path):
        self.folder = os.fspath(folder)
        self._fd: int | None = None
        self._path = ""
        self._ident: tuple[int, int] = (0, 0)
        self._pid = 0

    def append(self, frame: bytes, durable: bool = True) -> None:
        """Append `frame` (synced if `durable`); again elsewhere if gc took it."""
        while True:
            if self._fd is None or self._pid != os.getpid():
                self._open(durable)
            try:
                _write_all(self._fd, frame)
                if durable:
                    _sync(self._fd)
            except BaseException:
                self.close()  # a partial frame may end this log: start a new one
                raise
            try:
                status = os.stat(self._path)
                if (status.st_dev, status.st_ino) == self._ident:
                    return
            except FileNotFoundError:
                pass
            self.close()  # renamed by gc, perhaps before it read our frame

    def _open(self, durable: bool) -> None:
        self._fd = None  # a log inherited through fork is the parent's
        name = f"{HOST}-{os.getpid()}-{os.urandom(6).hex()}.log"
        self._path = f"{self.folder}/{name}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        try:
            fd = os.open(self._path, flags, 0o444)
        except FileNotFoundError:
            _make_folder(self.folder)
            fd = os.open(self._path, flags, 0o444)
        if durable:  # the new name survives a power cut too
            folder = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        status = os.fstat(fd)
        self._fd, self._ident, self._pid = (
            fd,
            (status.st_dev, status.st_ino),
            os.getpid(),
        )

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None


@dataclass
class _Log:
    name: str  # current file name (.log or .fold)
    read: int = 0  # bytes parsed so far
    stuck_at: int = -1  # file size at which a damaged frame stopped the parse


@dataclass
class _Bucket:
    """Same-shape entries of the logs, and a matrix per vector length."""

    uids: list[Uid] = field(default_factory=list)
    floats: list[bytes] = field(default_factory=list)
    blocks: dict[int, tuple[list[Uid], np.ndarray]] = field(default_factory=dict)


class LogView:
    """What the logs of a store hold, read incrementally and kept in memory.

    `refresh()` costs a `stat` of the folder and one per log, so lookups
    see other writers' commits at once.
    """

    def __init__(self, folder: Path):
        self.folder = os.fspath(folder)
        self._mtime: int | None = None
        self._clear()

    def _clear(self) -> None:
        self._logs: dict[str, _Log] = {}
        self.objects: dict[ObjectId, tuple[str, int, int]] = {}
        self.refs: dict[Uid, ObjectId] = {}
        self.exact: dict[bytes, set[Uid]] = {}
        self.shapes: dict[bytes, _Bucket] = {}
        self._fds: dict[str, int] = {}

    def close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = {}

    def refresh(self) -> None:
        from .tables import RACY_NS

        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime is None or mtime != self._mtime:
            self._relist()
            racy = mtime is not None and _now_ns() - mtime < RACY_NS
            self._mtime = None if racy else mtime
        if not all([self._read_more(base, log) for base, log in self._logs.items()]):
            self._mtime = None  # a log was folded away meanwhile: start over
            self._relist()
            for base, log in self._logs.items():
                self._read_more(base, log)

    def _relist(self) -> None:
        names = {}
        for name in listdir(self.folder):
            base = _base(name)
            if base is not None:
                names[base] = name
        if any(base not in names for base in self._logs):  # folded: start over
            self.close()
            self._clear()
        for base, name in names.items():
            self._logs.setdefault(base, _Log(name)).name = name

    def _read_more(self, base: str, log: _Log) -> bool:
        """Read what was appended; False if the log is gone."""
        for name in (log.name, *(base + suffix for suffix in SUFFIXES)):
            try:
                size = os.stat(f"{self.folder}/{name}").st_size
            except FileNotFoundError:
                continue
            log.name = name  # renamed to .fold by gc: the same file
            break
        else:
            return False
        if size <= log.read or size == log.stuck_at:
            return True
        fd = self._fd(base)
        if fd is None:
            return False
        parsed = parse_frames(os.pread(fd, size - log.read, log.read), log.read)
        # A damaged frame may be one not yet fully visible (NFS): try again
        # when the file changes.
        log.read, log.stuck_at = parsed.end, size if parsed.bad else -1
        for frame in parsed.frames:
            self._add(base, frame)
        return True

    def _fd(self, base: str) -> int | None:
        fd = self._fds.get(base)
        if fd is None:
            for suffix in SUFFIXES:
                with contextlib.suppress(FileNotFoundError):
                    fd = self._fds[base] = os.open(
                        f"{self.folder}/{base}{suffix}", os.O_RDONLY
                    )
                    break
        return fd

    def _add(self, base: str, frame: Frame) -> None:
        if frame.oid is not None:
            self.objects[frame.oid] = (base, frame.data_offset, frame.data_length)
        if frame.new_ref and frame.uid is not None and frame.oid is not None:
            self.refs[frame.uid] = frame.oid
        terms = frame.terms
        if terms is not None and frame.uid is not None:
            self.exact.setdefault(terms.exact, set()).add(frame.uid)
            bucket = self.shapes.setdefault(terms.shape, _Bucket())
            bucket.uids.append(frame.uid)
            bucket.floats.append(terms.floats.tobytes())
            bucket.blocks.clear()

    def read(self, oid: str) -> tuple[bytes, str] | None:
        """An object's bytes from a log, and where they were (None: not here)."""
        found = self.objects.get(oid)
        if found is None:
            return None
        base, offset, length = found
        fd = self._fd(base)
        if fd is None:
            return None
        data = os.pread(fd, length, offset)
        return data, f"log {self.folder}/{self._logs[base].name} at {offset}"

    def shape_block(self, shape: bytes, length: int):
        """(uids, (n, length) matrix) of the same-shape entries, or None."""
        bucket = self.shapes.get(shape)
        if bucket is None:
            return None
        block = bucket.blocks.get(length)
        if block is None:
            rows = [i for i, f in enumerate(bucket.floats) if len(f) == 8 * length]
            matrix = np.frombuffer(b"".join(bucket.floats[i] for i in rows), "<f8")
            uids = [bucket.uids[i] for i in rows]
            block = bucket.blocks[length] = (uids, matrix.reshape(len(rows), length))
        return block if block[0] else None

    def shape_entries(self, shape: bytes) -> Iterator[tuple[Uid, np.ndarray]]:
        bucket = self.shapes.get(shape)
        if bucket is not None:
            for uid, floats in zip(bucket.uids, bucket.floats):
                yield uid, np.frombuffer(floats, "<f8")

    def path_of(self, oid: str) -> tuple[Path, int, int] | None:
        found = self.objects.get(oid)
        if found is None:
            return None
        base, offset, length = found
        return Path(self.folder) / self._logs[base].name, offset, length


def _now_ns() -> int:
    import time

    return time.time_ns()


@dataclass
class LogContents:
    """Everything complete in a set of logs (for gc, reindex and fsck)."""

    frames: list[tuple[Path, Frame, bytes]] = field(default_factory=list)
    damaged: list[tuple[Path, int]] = field(default_factory=list)  # mid-file
    torn: list[tuple[Path, int]] = field(default_factory=list)  # at the end


def read_logs(paths: list[Path]) -> LogContents:
    contents = LogContents()
    for path in paths:
        try:
            with open(path, "rb") as f:
                buf = f.read()
        except FileNotFoundError:
            continue
        parsed = parse_frames(buf)
        view = memoryview(buf)
        for frame in parsed.frames:
            data = bytes(
                view[frame.data_offset : frame.data_offset + frame.data_length]
            )
            contents.frames.append((path, frame, data))
        if parsed.bad and not _ends_at_tail(buf, parsed.end):
            contents.damaged.append((path, parsed.end))
        elif parsed.end < len(buf):
            contents.torn.append((path, parsed.end))
    return contents


def _ends_at_tail(buf: bytes, start: int) -> bool:
    """Does the frame at `start` claim to reach the end of the file?
    (a frame torn by a crash: its header written, the rest not)."""
    if len(buf) - start < HEADER.size:
        return True
    fields = HEADER.unpack_from(buf, start)
    return start + HEADER.size + 8 * fields[4] + fields[5] >= len(buf)
