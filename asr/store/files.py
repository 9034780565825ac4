"""File primitives that are safe on local disks and on NFS/Lustre.

Only three operations are trusted to be atomic on a network file system:
``rename`` over a path, ``link`` to a new path and ``open(O_CREAT|O_EXCL)``.
Everything the store does is built from those: no ``fcntl``/``flock`` locks,
no mmap, no appends to shared files, no SQLite.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import socket
import threading
import time
from pathlib import Path

from .errors import LockTimeoutError

TMP_MARK = ".tmp-"
HOST = socket.gethostname()


def _tmp_name(path: Path | str) -> Path | str:
    """A temporary name beside `path` that says which process made it."""
    name = f"{os.fspath(path)}{TMP_MARK}{HOST}-{os.getpid()}-{os.urandom(4).hex()}"
    return name if isinstance(path, str) else Path(name)


def tmp_is_orphan(path: Path, older_than: float = 3600.0) -> bool:
    """Was this temporary file left by a process that is gone?"""
    try:
        host, pid, _rand = path.name.split(TMP_MARK, 1)[1].rsplit("-", 2)
        if host == HOST and not pid_alive(int(pid)):
            return True
        return time.time() - path.stat().st_mtime > older_than
    except (ValueError, OSError):
        return False


def _open_exclusive(path: Path | str) -> int:
    for _attempt in range(5):  # gc may remove an empty parent meanwhile
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileNotFoundError:
            _make_folder(os.path.dirname(path))
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)


def _make_folder(folder: str) -> None:
    """`os.makedirs(folder, exist_ok=True)`, in one call when the parent exists."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)


def create_empty(path: Path | str) -> bool:
    """Create an empty file unless it exists; False if it did.

    Needs no temporary file: an empty file has no content to see half of,
    and `O_CREAT|O_EXCL` is atomic on NFS too.
    """
    try:
        os.close(_open_exclusive(path))
    except FileExistsError:
        return False
    return True


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h


@functools.cache
def _sync_file_range():
    """libc's sync_file_range (Linux), or None where there is none."""
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a file's range to disk, not waiting
    (Linux's sync_file_range; elsewhere nothing): a later fsync then has
    only the last of it left to wait for."""
    function = _sync_file_range()
    if function is not None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a hint: errors ignored


_F_SETPIPE_SZ = 1031  # linux/fcntl.h


def widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Let a pipe hold `size` bytes (Linux; where it cannot, nothing): a
    stream of a gigabyte then passes in a sixteenth of the wake-ups the
    default 64 KiB take, each of which costs both ends a context switch.
    1 MiB is what an unprivileged process may ask for by default
    (/proc/sys/fs/pipe-max-size)."""
    import fcntl
    import stat

    with contextlib.suppress(OSError, ValueError):
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


class BackgroundWriter:
    """Writes chunks to `fd` in a thread, in order, while the caller goes on.

    `os.write` releases the GIL, so a receiver that hashes what arrives
    (`mirror`) keeps the kernel copying the previous chunks meanwhile: a
    clone costs the larger of the two, not their sum. Every `writeback`
    bytes, the kernel is asked to start writing them to disk, so that the
    fsync at the end waits for little. Chunks must not change once handed
    over (bytes do not). `close` waits for every write and raises the first
    error a write met; after an error the rest are dropped.
    """

    def __init__(self, fd: int, depth: int = 64, writeback: int = 16 << 20):
        import queue
        import threading

        self.fd = fd
        self.error: BaseException | None = None
        self._writeback = writeback
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        written = synced = 0
        while (chunk := self._queue.get()) is not None:
            if self.error is None:
                try:
                    _write_all(self.fd, chunk)
                    written += len(chunk)
                    if written - synced >= self._writeback:
                        start_writeback(self.fd, synced, written - synced)
                        synced = written
                except BaseException as err:  # noqa: BLE001 - raised by close
                    self.error = err

    def write(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait for the writes (call it before closing `fd`); raise their error."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error


def write_atomic(path: Path | str, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see all of it or nothing.

    `durable` fsyncs the file before the rename, so the content survives a
    power cut; derived files (refs, index entries) may skip it.
    """
    tmp = _tmp_name(path)
    fd = _open_exclusive(tmp)
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: leave no half-written file
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def is_tmp(name: str) -> bool:
    return TMP_MARK in name


def read_bytes(path: Path | str) -> bytes:
    """The content of a file, in four system calls (`open().read()` makes nine)."""
    return read_file(path)[0]


def read_file(path: Path | str) -> tuple[bytes, os.stat_result]:
    """The content of a file and its status (inode, size, mtime...)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        status = os.fstat(fd)
        size = status.st_size
        data = os.read(fd, size) if size else b""
        if len(data) < size or not size:  # a short read, or a size not known
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data, status
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Is process `pid` of this host running?

    A zombie (killed, not yet reaped by its parent) still answers
    `kill(pid, 0)`, but will never release a lock or answer a request: it
    counts as dead.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive unless a zombie
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:  # gone meanwhile, or no /proc (macOS)
        return not os.path.isdir("/proc/self")
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


class _Heartbeat:
    """One thread per process that touches every lock file it holds.

    Starting a thread per lock cost more than the rest of a cache miss; this
    one starts with the first lock and then sleeps until a lock is due. It
    touches under its condition's lock, so a released lock is never touched.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[FileLock, list] = {}  # lock -> [path, interval, next touch]
        self._thread: threading.Thread | None = None
        self._wake = math.inf  # when the thread wakes next, if not notified

    def add(self, lock: FileLock, interval: float) -> None:
        with self._cond:
            due = time.monotonic() + interval
            self._due[lock] = [lock.path, interval, due]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lock-heartbeat", daemon=True
                )
                self._thread.start()
            elif due < self._wake:  # waking the thread costs: only when needed
                self._cond.notify()

    def remove(self, lock: FileLock) -> None:
        with self._cond:
            self._due.pop(lock, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for entry in self._due.values():
                    if entry[2] <= now:
                        with contextlib.suppress(OSError):
                            os.utime(entry[0])
                        entry[2] = now + entry[1]
                self._wake = min((e[2] for e in self._due.values()), default=math.inf)
                wait = None if self._wake == math.inf else max(self._wake - now, 0.0)
                self._cond.wait(wait)


_heartbeat = _Heartbeat()


def _new_heartbeat_after_fork() -> None:
    # A forked child has no heartbeat thread and holds none of its parent's locks.
    global _heartbeat
    _heartbeat = _Heartbeat()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_heartbeat_after_fork)


class FileLock:
    """A lock held by creating a file exclusively (safe on NFS).

    The file says who holds it (host, pid). A holder on this host whose
    process is gone is broken at once; a holder elsewhere is trusted while it
    keeps touching the file (the process's heartbeat thread does that every
    `heartbeat` seconds), and broken when the file is older than `stale_after`
    seconds.

    With `content`, the lock file holds that instead (Git's way for refs: the
    lock is the new file), and `replace(target)` renames it over the target,
    which writes the target and releases the lock in one atomic step. Such a
    lock names no holder, so it is broken when older than 5 seconds.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float | None = None,
        stale_after: float = 600.0,
        heartbeat: float | None = 60.0,
        content: bytes | None = None,
    ):
        self.path = Path(path)
        self.timeout = timeout
        self.stale_after = stale_after
        self.heartbeat = heartbeat
        self.content = content

    def acquire(self) -> None:
        start = time.monotonic()
        delay = 0.001
        while not self.try_acquire():
            if self.timeout is not None and time.monotonic() - start > self.timeout:
                raise LockTimeoutError(
                    f"could not take lock {self.path} within {self.timeout} s "
                    f"(held by {self.holder() or 'unknown'})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def try_acquire(self) -> bool:
        try:
            fd = _open_exclusive(self.path)
        except FileExistsError:
            self.break_if_stale()
            return False
        try:
            content = self.content
            if content is None:
                content = f"{HOST} {os.getpid()} {time.time():.3f}\n".encode()
            _write_all(fd, content)
        finally:
            os.close(fd)
        if self.heartbeat:
            _heartbeat.add(self, self.heartbeat)
        return True

    def holder(self) -> str | None:
        try:
            return read_bytes(self.path).decode(errors="replace").strip()
        except OSError:
            return None

    def break_if_stale(self) -> bool:
        """Remove the lock file if its holder is gone; True if it went.

        Safe against a process taking the lock meanwhile: the file is
        renamed aside and put back if it is no longer the stale one.
        """
        try:
            content = read_bytes(self.path)
            age = time.time() - os.stat(self.path).st_mtime
        except OSError:
            return False
        fields = content.decode(errors="replace").split()
        if len(fields) < 2:  # holder died between create and write
            stale = age > 5.0
        else:
            host, pid = fields[0], int(fields[1]) if fields[1].isdigit() else -1
            stale = (host == HOST and not pid_alive(pid)) or age > self.stale_after
        if not stale:
            return False
        # Move it aside, and put it back if it was a new holder's lock that
        # replaced the stale one since we looked.
        grave = _tmp_name(self.path)
        try:
            os.rename(self.path, grave)
        except OSError:
            return False
        broken = True
        with contextlib.suppress(OSError):
            if read_bytes(grave) != content:
                os.link(grave, self.path)
                broken = False
        remove(grave)
        return broken

    def replace(self, target: Path) -> None:
        """Rename the lock (holding `content`) over `target`: write and release."""
        _heartbeat.remove(self)
        try:
            os.replace(self.path, target)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        _heartbeat.remove(self)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def listdir(path: Path | str) -> list[str]:
    """Names in a folder; an absent folder is empty."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []


def remove(path: Path | str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
