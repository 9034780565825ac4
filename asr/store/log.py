"""Commit logs: one append-only file per writing process.

A commit (the record object, its index terms and, for a new record, its ref)
is one *frame* appended to the writer's own log, then fdatasynced. That is
one system call and one sync where a file per object, ref and index entry
cost three new inodes and a sync of a new file (several times dearer).

A log is zero-filled ahead of its frames (64 KiB, then doubling up to a MiB
at a time, and synced), so that a frame overwrites blocks that exist
already: its sync then writes data only, and need not wait for the file
system's journal, which every other process on the machine shares. Frames
end at the first zero header.

Only the process that made a log appends to it, so no two writers ever
append to one file (which NFS would interleave). Readers read the frames
incrementally and keep them in memory; `gc` folds logs into a pack, an index
segment and a packed-refs table. To fold a log, `gc` renames it to `.fold`
first; the writer checks after every append that its log is still where it
put it, and if not writes the frame again into a new log. So a frame is
either seen by `gc` or written again, never lost.

Frame layout (little-endian)::

    "ASRL" | check (16 bytes) | version u8 | flags u8 | 0 u16 |
    n floats u32 | n bytes u64 | object id | uid | exact key | shape key
    (16 bytes each) | floats (f8 each) | object bytes

`check` is the xxh3-128 of the rest of the header and the floats, so a torn
or damaged frame is never taken for index terms or a ref. The object bytes
are checked by their id: when parsing (a last frame whose bytes do not match
was torn by a crash and is ignored; one followed by others is damaged, and
reads report its object as corrupt) and on every read.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import struct
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import HOST, _make_folder, listdir
from .ids import ObjectId, Uid, digest
from .objects import IndexTerms
from .tables import RACY_NS

MAGIC = b"ASRL"
VERSION = 1
HEADER = struct.Struct("<4s16sBBHIQ16s16s16s16s")
CHECKED = 20  # `check` covers the frame from here to the end of the floats
HAS_OBJECT, HAS_UID, HAS_INDEX, NEW_REF = 1, 2, 4, 8
# Written to; closed by its writer (never written again); being folded by gc.
SUFFIXES = (".log", ".sealed", ".fold")
SEALED = ".sealed"
MAX_OPEN = 64  # file descriptors a reader keeps open (logs may be thousands)
# A writer that starts a log while this many lie in the folder starts a
# `gc` in the background (as Git's auto gc): readers look at every unsealed
# log on each lookup and at every log once, so logs must not pile up.
AUTO_GC_LOGS = int(os.environ.get("ASR_AUTO_GC_LOGS", "256"))
# A writer whose own log reaches this many frames (and every multiple) starts
# one too: a single process committing 10^5 Records one by one (a screening
# loop) would otherwise leave one log that every new reader parses whole
# (about 10 µs a frame: a second at 10^5), and a fetch from its store would
# cost in proportion to the store instead of to what is new.
AUTO_GC_FRAMES = int(os.environ.get("ASR_AUTO_GC_FRAMES", "8192"))
# Logs are zero-filled ahead of their frames, 64 KiB at first (most
# processes commit a few records), doubling up to 1 MiB at a time.
FIRST_CHUNK, CHUNK = 1 << 16, 1 << 20
WINDOW = 1 << 16  # readers read a log's new frames this much at a time
_ZERO = bytes(16)
_NO_MAGIC = bytes(4)
_sync = getattr(os, "fdatasync", os.fsync)


@dataclass(frozen=True)
class Frame:
    """One parsed frame; the object bytes stay in the file (`data_offset`)."""

    offset: int
    oid: ObjectId | None
    data_offset: int
    data_length: int
    uid: Uid | None
    exact: bytes
    shape: bytes
    floats: bytes | None  # None: no index terms
    new_ref: bool

    @property
    def terms(self) -> IndexTerms | None:
        if self.floats is None:
            return None
        return IndexTerms(self.exact, self.shape, np.frombuffer(self.floats, "<f8"))


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
        _ZERO,
        VERSION,
        flags,
        0,
        len(floats) // 8,
        len(data),
        bytes.fromhex(oid) if oid is not None else _ZERO,
        bytes.fromhex(uid) if uid else _ZERO,
        terms.exact if terms is not None else _ZERO,
        terms.shape if terms is not None else _ZERO,
    )[CHECKED:]
    return b"".join([MAGIC, digest(head + floats), head, floats, data])


@dataclass
class Parsed:
    frames: list[Frame]
    end: int  # where the next frame starts (or the bad one)
    bad: bool  # a frame that is complete but damaged stops the parse
    need: int = 0  # bytes from `end` needed to go on (0: zeros, or bad)


def parse_frames(buf: bytes | memoryview, base: int = 0) -> Parsed:
    """Whole frames in `buf` (which starts at file offset `base`).

    Stops at zeros (not written yet), before an incomplete frame (being
    written, or torn by a crash: also a last frame whose object bytes do not
    match its id) and at a damaged header (`bad`).
    """
    frames = []
    view = memoryview(buf)
    pos, size = 0, len(buf)
    unpack, header_size = HEADER.unpack_from, HEADER.size
    while size - pos >= header_size:
        magic, check, version, flags, _, n_floats, n_data, oid, uid, exact, shape = (
            unpack(buf, pos)
        )
        floats_end = pos + header_size + 8 * n_floats
        end = floats_end + n_data
        if magic != MAGIC or version != VERSION:
            return Parsed(frames, base + pos, magic != _NO_MAGIC)
        if end > size:
            return Parsed(frames, base + pos, False, end - pos)
        if digest(view[pos + CHECKED : floats_end]) != check:
            return Parsed(frames, base + pos, True)
        if flags & HAS_OBJECT and digest(view[floats_end:end]) != oid:
            following = bytes(view[end : end + 4])
            if len(following) < 4 or following == _NO_MAGIC:
                # The last frame: torn, or not all visible yet.
                need = end - pos + 4 if len(following) < 4 else 0
                return Parsed(frames, base + pos, False, need)
        floats = None
        if flags & HAS_INDEX:
            floats = bytes(view[pos + header_size : floats_end])
        frames.append(
            Frame(
                base + pos,
                _hex(ObjectId, oid) if flags & HAS_OBJECT else None,
                base + floats_end,
                n_data,
                _hex(Uid, uid) if flags & HAS_UID else None,
                exact,
                shape,
                floats,
                bool(flags & NEW_REF),
            )
        )
        pos = end
    return Parsed(frames, base + pos, False, header_size)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _hex(cls: type, raw: bytes):
    return str.__new__(cls, raw.hex())  # 16 bytes: valid by construction


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
        self._end = self._size = self._frames = 0  # frames end, zeros end, count
        self._lock = threading.Lock()  # threads of one process share the log
        self._seal_at_exit = False  # registered when it first writes

    def append(self, frame: bytes, durable: bool = True) -> None:
        """Append `frame` (synced if `durable`); again elsewhere if gc took it."""
        with self._lock:
            self._append(frame, durable)

    def _append(self, frame: bytes, durable: bool) -> None:
        while True:
            if self._fd is None or self._pid != os.getpid():
                self._open(durable)
            end = self._end + len(frame)
            try:
                if end > self._size:
                    self._zero_fill(end, durable)
                _pwrite_all(self._fd, frame, self._end)
                if durable:
                    _sync(self._fd)
            except BaseException:
                self._close()  # a partial frame may end this log: start a new one
                raise
            self._end = end
            try:
                status = os.stat(self._path)
                if (status.st_dev, status.st_ino) == self._ident:
                    self._frames += 1
                    if self._frames % AUTO_GC_FRAMES == 0:
                        start_auto_gc(Path(self.folder).parent)
                    return
            except FileNotFoundError:
                pass
            self._close(seal=False)  # renamed by gc, perhaps before it read our frame

    def _zero_fill(self, end: int, durable: bool) -> None:
        """Make the log at least `end` bytes long, zeros after the frames."""
        step = min(max(self._size, FIRST_CHUNK), CHUNK)
        size = max(-(-end // FIRST_CHUNK) * FIRST_CHUNK, self._size + step)
        _pwrite_all(self._fd, bytes(size - self._size), self._size)
        if durable:
            os.fsync(self._fd)
        self._size = size

    def _open(self, durable: bool) -> None:
        self._fd = None  # a log inherited through fork is the parent's
        self._end = self._size = self._frames = 0
        name = f"{HOST}-{os.getpid()}-{os.urandom(6).hex()}.log"
        self._path = f"{self.folder}/{name}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
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
        if not self._seal_at_exit:  # only writers: readers need no seal
            atexit.register(_close_at_exit, weakref.ref(self))
            self._seal_at_exit = True
        if len(listdir(self.folder)) > AUTO_GC_LOGS:
            start_auto_gc(Path(self.folder).parent)

    def close(self) -> None:
        """Seal the log: readers then read it once and never look again."""
        with self._lock:
            self._close()

    def _close(self, seal: bool = True) -> None:
        if self._fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
            if seal:  # gc may have taken it (renamed to .fold): then no matter
                with contextlib.suppress(OSError):
                    os.rename(self._path, self._path[: -len(".log")] + SEALED)
        self._fd = None


def _close_at_exit(writer: weakref.ref) -> None:
    alive = writer()
    if alive is not None:
        alive.close()


def start_auto_gc(root: Path) -> None:
    """Start `python -m asr.store.autogc ROOT`, detached (it may outlive us)."""
    if os.environ.get("ASR_AUTO_GC", "1") == "0":
        return
    import subprocess  # only writers start it: readers skip the import

    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "asr.store.autogc", os.fspath(root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@dataclass
class _Log:
    name: str  # current file name (.log, .sealed or .fold)
    read: int = 0  # bytes parsed so far
    seen: tuple[int, int] = (-1, -1)  # (size, mtime) when it was last read
    complete: bool = False  # sealed and read: never changes again


@dataclass
class _Bucket:
    """Same-shape entries of the logs, and a matrix per vector length.

    A matrix remembers how many entries it has seen, so a new entry extends it
    instead of rebuilding it from every entry (once per cache miss).
    """

    uids: list[Uid] = field(default_factory=list)
    floats: list[bytes] = field(default_factory=list)
    blocks: dict[int, tuple[list[Uid], np.ndarray, int]] = field(default_factory=dict)


class LogView:
    """What the logs of a store hold, read incrementally and kept in memory.

    `refresh()` costs a `stat` of the folder and one per log, so lookups
    see other writers' commits at once.
    """

    def __init__(self, folder: Path):
        self.folder = os.fspath(folder)
        self._mtime: int | None = None
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._logs: dict[str, _Log] = {}
        self.objects: dict[ObjectId, tuple[str, int, int]] = {}
        self.refs: dict[Uid, ObjectId] = {}
        # Revisions of existing records (frames with no new ref), by uid.
        self.revisions: dict[Uid, list[tuple[str, ObjectId]]] = {}
        self.exact: dict[bytes, set[Uid]] = {}
        self.shapes: dict[bytes, _Bucket] = {}
        self._fds: OrderedDict[str, int] = OrderedDict()  # the recently used

    def close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = OrderedDict()

    def refresh(self) -> None:
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
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
        if log.complete:  # gc deleting it changes the folder: `_relist` sees
            return True
        for name in (log.name, *(base + suffix for suffix in SUFFIXES)):
            try:
                status = os.stat(f"{self.folder}/{name}")
            except FileNotFoundError:
                continue
            if name.endswith(SEALED) and not log.name.endswith(SEALED):
                # Open it again: on NFS, opening is what shows a file's
                # last writes (close-to-open consistency).
                fd = self._fds.pop(base, None)
                if fd is not None:
                    os.close(fd)
            log.name = name  # sealed by its writer, or .fold by gc: same file
            break
        else:
            return False
        # Frames overwrite zeros, so the size may stay: the mtime tells, but
        # only once it is older than its clock's resolution (Git's racy rule).
        size, mtime = status.st_size, status.st_mtime_ns
        if (size, mtime) == log.seen and _now_ns() - mtime > RACY_NS:
            return True
        log.seen = (size, mtime)
        fd = self._fd(base)
        if fd is None:
            return False
        window = WINDOW
        while log.read < size:
            buf = os.pread(fd, min(window, size - log.read), log.read)
            parsed = parse_frames(buf, log.read)
            for frame in parsed.frames:
                self._add(base, frame)
            # A damaged frame may be one not yet all visible (a write in
            # progress, or NFS): it is read again when the file changes.
            log.read = parsed.end
            if not parsed.need or log.read + parsed.need > size:
                break
            window = max(WINDOW, parsed.need)
        log.complete = log.name.endswith(SEALED)
        return True

    def _fd(self, base: str) -> int | None:
        fd = self._fds.get(base)
        if fd is not None:
            self._fds.move_to_end(base)
            return fd
        for suffix in SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                fd = self._fds[base] = os.open(
                    f"{self.folder}/{base}{suffix}", os.O_RDONLY
                )
                break
        while len(self._fds) > MAX_OPEN:
            _base_name, old = self._fds.popitem(last=False)
            os.close(old)
        return fd

    def _add(self, base: str, frame: Frame) -> None:
        if frame.oid is not None:
            self.objects[frame.oid] = (base, frame.data_offset, frame.data_length)
        if frame.uid is not None and frame.oid is not None:
            if frame.new_ref:
                self.refs[frame.uid] = frame.oid
            else:
                self.revisions.setdefault(frame.uid, []).append((base, frame.oid))
        if frame.floats is not None and frame.uid is not None:
            self.exact.setdefault(frame.exact, set()).add(frame.uid)
            bucket = self.shapes.get(frame.shape)
            if bucket is None:
                bucket = self.shapes[frame.shape] = _Bucket()
            bucket.uids.append(frame.uid)
            bucket.floats.append(frame.floats)

    def sealed_revisions(self, uid: str) -> list[ObjectId]:
        """Revisions of `uid` in sealed logs: their writers moved the ref
        there (or lost a race to another revision), so a ref behind one of
        them has lost its loose file."""
        return [
            oid
            for base, oid in self.revisions.get(uid, ())
            if base in self._logs and self._logs[base].name.endswith(SEALED)
        ]

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
        seen = 0 if block is None else block[2]
        if seen < len(bucket.floats):  # extended by the new entries only
            new = [
                i
                for i in range(seen, len(bucket.floats))
                if len(bucket.floats[i]) == 8 * length
            ]
            floats = b"".join(bucket.floats[i] for i in new)
            matrix = np.frombuffer(floats, "<f8").reshape(len(new), length)
            uids = [bucket.uids[i] for i in new]
            if block is not None:
                uids = block[0] + uids
                matrix = np.concatenate([block[1], matrix])
            block = bucket.blocks[length] = (uids, matrix, len(bucket.floats))
        return block[:2] if block[0] else None

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
            start = frame.data_offset
            data = bytes(view[start : start + frame.data_length])
            contents.frames.append((path, frame, data))
        if buf.find(MAGIC, parsed.end + 1) >= 0:  # frames after it
            contents.damaged.append((path, parsed.end))
        elif any(view[parsed.end : parsed.end + CHUNK]):
            contents.torn.append((path, parsed.end))  # the last one
    return contents
