"""File primitives: atomic writes, the NFS-safe lock, cached table listings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from asr.store import LockTimeoutError, tables
from asr.store.files import (
    HOST,
    FileLock,
    is_tmp,
    pid_alive,
    tmp_is_orphan,
    write_atomic,
)

WORKER = Path(__file__).with_name("store_worker.py")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


# -- atomic writes --------------------------------------------------------------


def test_write_atomic(tmp_path):
    path = tmp_path / "sub" / "file"
    write_atomic(path, b"first")
    write_atomic(path, b"second", durable=False)
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["file"]  # no temporary files left


FULL_DISK = """
import errno, resource, signal, sys
from asr.store import DiskStore
from asr.store.files import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
store = DiskStore(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
for write in (
    lambda: write_atomic(sys.argv[2], bytes(100_000)),
    lambda: store.put_blob(bytes(100_000)),
):
    try:
        write()
    except OSError as err:
        print(errno.errorcode[err.errno])
"""


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    # RLIMIT_FSIZE fails the write with EFBIG, as a full disk does (ENOSPC).
    from asr.store import init_store

    store = init_store(tmp_path)
    before = {p for p in store.root.rglob("*")}
    target = tmp_path / "file"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(store.root), str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["EFBIG", "EFBIG"]
    assert [p.name for p in tmp_path.iterdir() if p.name != ".asr"] == []
    new = {p for p in store.root.rglob("*") if p.is_file()} - before
    assert new == set()  # no temporary (or partial) object


def test_tmp_files_of_dead_writers_are_orphans(tmp_path):
    mine = tmp_path / f"x.tmp-{HOST}-{os.getpid()}-0123abcd"
    dead = tmp_path / f"x.tmp-{HOST}-{dead_pid()}-0123abcd"
    elsewhere = tmp_path / "x.tmp-other-host-name-1-0123abcd"
    for path in (mine, dead, elsewhere):
        path.write_bytes(b"")
        assert is_tmp(path.name)
    assert not tmp_is_orphan(mine)
    assert tmp_is_orphan(dead)
    assert not tmp_is_orphan(elsewhere)
    age(elsewhere, 7200)
    assert tmp_is_orphan(elsewhere)


# -- FileLock -------------------------------------------------------------------


def test_lock_is_exclusive_and_says_who_holds_it(tmp_path):
    path = tmp_path / "a.lock"
    with FileLock(path, timeout=1) as lock:
        assert lock.holder().split()[:2] == [HOST, str(os.getpid())]
        with pytest.raises(LockTimeoutError, match=str(os.getpid())):
            FileLock(path, timeout=0.05).acquire()
        assert not FileLock(path).try_acquire()
    assert not path.exists()
    with FileLock(path, timeout=0.05):
        pass


def test_stale_lock_of_a_dead_process_is_broken(tmp_path):
    path = tmp_path / "a.lock"
    path.write_text(f"{HOST} {dead_pid()} {time.time():.3f}\n")
    start = time.monotonic()
    with FileLock(path, timeout=5) as lock:
        assert lock.holder().split()[1] == str(os.getpid())
    assert time.monotonic() - start < 1.0
    assert not path.exists()
    assert [p for p in tmp_path.iterdir() if is_tmp(p.name)] == []


def test_lock_of_a_live_process_is_kept(tmp_path):
    path = tmp_path / "a.lock"
    holder = f"{HOST} {os.getppid()} {time.time():.3f}\n"
    path.write_text(holder)
    with pytest.raises(LockTimeoutError):
        FileLock(path, timeout=0.1).acquire()
    assert path.read_text() == holder


def test_lock_of_another_host_is_broken_when_old(tmp_path):
    path = tmp_path / "a.lock"
    path.write_text("some-other-host 1 0.000\n")
    with pytest.raises(LockTimeoutError):
        FileLock(path, timeout=0.1, stale_after=60).acquire()
    age(path, 120)
    with FileLock(path, timeout=1, stale_after=60):
        pass


def test_half_written_lock_is_broken_when_old(tmp_path):
    path = tmp_path / "a.lock"
    path.write_bytes(b"")  # the holder died between create and write
    with pytest.raises(LockTimeoutError):
        FileLock(path, timeout=0.1).acquire()
    age(path, 10)
    with FileLock(path, timeout=1):
        pass


def test_heartbeat_keeps_the_lock_fresh(tmp_path):
    path = tmp_path / "a.lock"
    with FileLock(path, heartbeat=0.02):
        age(path, 1000)
        time.sleep(0.2)
        assert time.time() - path.stat().st_mtime < 100


def test_one_heartbeat_thread_keeps_every_held_lock_fresh(tmp_path):
    """A lock must not start a thread each: that cost more than a cache miss."""
    threads = threading.active_count()
    locks = [FileLock(tmp_path / f"{i}.lock", heartbeat=0.02) for i in range(20)]
    for lock in locks:
        lock.acquire()
    try:
        assert threading.active_count() <= threads + 1
        for lock in locks:
            age(lock.path, 1000)
        time.sleep(0.2)
        for lock in locks:
            assert time.time() - lock.path.stat().st_mtime < 100
    finally:
        for lock in locks:
            lock.release()


def test_a_released_lock_is_not_touched(tmp_path):
    path = tmp_path / "a.lock"
    with FileLock(path, heartbeat=0.02):
        pass
    path.write_text("someone-else 1 0\n")  # another holder's stale lock
    age(path, 1000)
    with FileLock(tmp_path / "b.lock", heartbeat=0.02):  # the thread runs
        time.sleep(0.1)
    assert time.time() - path.stat().st_mtime > 900


def test_two_processes_never_hold_the_lock_together(tmp_path):
    lock = tmp_path / "shared.lock"
    (tmp_path / "counter").write_text("0")
    rounds, start_at = 150, time.time() + 0.5
    args = ["contend", lock, tmp_path, rounds, start_at]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    busy = 0
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        busy += int(out)
    assert int((tmp_path / "counter").read_text()) == 2 * rounds
    assert busy > 0  # they did contend
    assert not lock.exists()


HOLD = """
import sys, time
from asr.store.files import FileLock
lock = FileLock(sys.argv[1], heartbeat=None)
lock.acquire()
print("holding", flush=True)
time.sleep(600)
"""

WAIT = """
import sys, time
from asr.store.files import FileLock
start = time.monotonic()
with FileLock(sys.argv[1], timeout=float(sys.argv[2])):
    print(f"{time.monotonic() - start:.2f}")
"""


def test_lock_of_a_killed_but_unreaped_process_is_broken(tmp_path):
    # A holder killed but not reaped by its parent is a zombie: it still
    # answers kill(pid, 0), and waiters used to wait for it until stale_after.
    path = tmp_path / "a.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        waiter = subprocess.Popen(
            [sys.executable, "-c", WAIT, str(path), "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)  # the waiter finds the lock held
        os.kill(holder.pid, signal.SIGKILL)  # and no wait(): a zombie
        for _ in range(100):
            state = Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[1]
            if state.split()[0] == "Z":
                break
            time.sleep(0.01)
        assert not pid_alive(holder.pid)
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err
        assert float(out) < 5.0
        assert Path(f"/proc/{holder.pid}").exists()  # still a zombie
    finally:
        holder.kill()
        holder.wait()


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())


# -- cached listings of tables --------------------------------------------------


def small_table(n: int) -> tables.Table:
    keys = [bytes([n]) * 16]
    return tables.build("test", keys, {"n": np.array([n])})


def test_table_cache_sees_a_change_within_one_clock_tick(tmp_path):
    """A folder may change twice within its mtime resolution (a second on
    some file systems): the cache must not miss the second change."""
    folder = tmp_path / "tables"
    folder.mkdir()
    tables.save(small_table(1), folder)
    cache = tables.TableCache(folder)
    assert len(cache.tables()) == 1
    stat = folder.stat()
    tables.save(small_table(2), folder)
    os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same tick
    assert sorted(int(t.columns["n"][0]) for t in cache.tables()) == [1, 2]


def test_table_cache_forgets_its_listing_and_loads_when_next_used(tmp_path):
    """`forget` (what a store's refresh does) loads nothing; the next use
    lists the folder again, even where its mtime seems not to have changed."""
    folder = tmp_path / "tables"
    folder.mkdir()
    tables.save(small_table(1), folder)
    old = time.time_ns() - 10 * tables.RACY_NS
    os.utime(folder, ns=(old, old))  # old enough to be trusted
    cache = tables.TableCache(folder)
    assert len(cache.tables()) == 1
    tables.save(small_table(2), folder)
    os.utime(folder, ns=(old, old))  # as a stale attribute cache would show it
    assert len(cache.tables()) == 1
    cache.forget()
    assert len(cache._tables) == 1  # not loaded yet
    assert sorted(int(t.columns["n"][0]) for t in cache.tables()) == [1, 2]


def test_store_refresh_after_a_bulk_write_loads_tables_when_used(tmp_path):
    from asr.store import IndexTerms, digest, init_store

    store = init_store(tmp_path)
    key = digest(b"a")
    with store.bulk() as batch:
        record = batch.commit(1, index=IndexTerms(key, digest(b"s"), [1.0]))
    assert store._segments._tables == {}  # refreshed, not loaded
    assert [r.uid for r in store.find(key)] == [record.uid]


def test_table_rows_and_prefixes():
    keys = [bytes.fromhex(h.ljust(32, "0")) for h in ("ab", "abcd", "ab", "ff", "00")]
    table = tables.build("test", keys, {"i": np.arange(5)})
    assert sorted(table.columns["i"][table.rows(keys[0])]) == [0, 2]
    assert list(table.columns["i"][table.rows(keys[4])]) == [4]
    assert len(table.rows(bytes(15) + b"\x01")) == 0
    assert len(table.prefix_rows(b"\xab")) == 3
    assert len(table.prefix_rows(b"\xab\xcd")) == 1
    assert len(table.prefix_rows(b"\x00")) == 1
    assert table.key(0) == keys[4]  # sorted, trailing zero bytes kept


def test_a_background_writer_writes_in_order_and_starts_writeback(tmp_path):
    """Chunks land in order while the caller goes on; asking the kernel to
    start writing them to disk early (every byte here) changes no content,
    and on a pipe, where it cannot, the hint is ignored."""
    from asr.store.files import BackgroundWriter

    chunks = [os.urandom(n) for n in (1, 100, 70_000, 3, 250_000)]
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    writer = BackgroundWriter(fd, depth=2, writeback=1)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    os.fsync(fd)
    os.close(fd)
    assert (tmp_path / "out").read_bytes() == b"".join(chunks)

    read, write = os.pipe()
    writer = BackgroundWriter(write, writeback=1)
    writer.write(b"through a pipe")
    writer.close()
    os.close(write)
    assert os.read(read, 100) == b"through a pipe"
    os.close(read)
