"""Transfers killed or damaged in flight: nothing lost, nothing half-visible,
fsck clean, and a rerun completes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asr.core import transfer
from asr.store import remote as remote_
from asr.store.transfer import TransferError

from .conftest import assert_clean, revise
from .project import add, heads, project

FAKE_SSH = f"{sys.executable} {Path(__file__).with_name('fake_ssh.py')}"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_ssh(monkeypatch):
    """ssh:// URLs reach this machine through fake_ssh.py: the sender is a
    process of its own, as over ssh, that a test can kill or whose output
    it can damage."""
    monkeypatch.setenv("ASR_SSH_COMMAND", FAKE_SSH)
    monkeypatch.setenv(
        "ASR_REMOTE_ASR",
        f"env PYTHONPATH={REPO} OMP_NUM_THREADS=1 {sys.executable} -m asr.cli.main",
    )


def big_project(folder: Path, n: int = 4, size: int = 3 << 20):
    """Records whose File blobs are large enough to take a while to send."""
    rng = random.Random(folder.name)
    texts = [f"{i}:" + "".join(rng.choices("abcdef", k=size)) for i in range(n)]
    return project(folder, texts)


def check_after_failure(a, b, before: dict) -> None:
    """Every ref of `b` is its old head or `a`'s head; both stores clean."""
    now, theirs = heads(b), heads(a)
    for uid, oid in now.items():
        assert oid in (before.get(uid), theirs.get(uid))
    assert_clean(a, b)


def _pull_process(folder: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "asr.cli.main", "pull"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _object_bytes(folder: Path) -> int:
    """Bytes under the store's objects: what a pull has written so far."""
    total = 0
    for root, _dirs, files in os.walk(folder / ".asr" / "objects"):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # renamed or removed meanwhile
                pass
    return total


def _pulled_bytes(folder: Path) -> int:
    """How many bytes a whole pull into `folder` writes."""
    before = _object_bytes(folder)
    assert _pull_process(folder).wait() == 0
    return _object_bytes(folder) - before


def _kill_at(folder: Path, process: subprocess.Popen, target: int, pid) -> None:
    """SIGKILL `pid()` once `folder`'s objects hold `target` bytes: timed by
    the transfer's progress, not by the clock (a loaded machine starts and
    runs the processes at any speed)."""
    while process.poll() is None and _object_bytes(folder) < target:
        time.sleep(0.002)
    try:
        os.kill(pid(), signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError, ValueError):  # done already
        pass


def _text(path: Path) -> str:
    """The file's text, or '' while it is missing (or not yet written)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _kill_remote(pidfile: Path, process: subprocess.Popen, delay: float) -> None:
    """SIGKILL the remote side `delay` seconds after it started (timed from
    its start, not the client's: on a loaded machine starting takes long)."""
    while not _text(pidfile) and process.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    try:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError, ValueError):  # done already
        pass


def test_receiver_killed_at_random_moments(tmp_path):
    a = big_project(tmp_path / "a")
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b", ["text=nothing*"])
    transfer.clone(str(tmp_path / "a"), tmp_path / "c", ["text=nothing*"])
    total = _pulled_bytes(tmp_path / "c")  # what a whole pull writes
    assert heads(b) == {}
    rng = random.Random(19)
    interrupted = 0
    for fraction in sorted(rng.uniform(0.05, 0.95) for _ in range(6)):
        before = heads(b)
        start = _object_bytes(tmp_path / "b")
        process = _pull_process(tmp_path / "b")
        target = start + int(fraction * total)
        _kill_at(tmp_path / "b", process, target, lambda p=process: p.pid)
        if process.wait() == -signal.SIGKILL and heads(b) != heads(a):
            interrupted += 1
        check_after_failure(a, b, before)
    assert interrupted  # at least one kill hit a transfer under way
    transfer.pull(b, "origin")
    assert heads(b) == heads(a)
    assert_clean(a, b)


def test_sender_killed_at_random_moments(tmp_path, local_ssh, monkeypatch):
    a = big_project(tmp_path / "a")
    add(a, ["small"])
    url = f"ssh://localhost{tmp_path / 'a'}"
    b, _ = transfer.clone(url, tmp_path / "b", ["text=small"])
    transfer.clone(url, tmp_path / "c", ["text=small"])
    start = time.monotonic()
    assert _pull_process(tmp_path / "c").wait() == 0
    took = time.monotonic() - start  # a whole pull, the client's start too
    pidfile = tmp_path / "sender.pid"
    monkeypatch.setenv("ASR_TEST_PIDFILE", str(pidfile))
    rng = random.Random(91)
    failed = 0
    # Timed from the sender's start; the first kill comes as soon as it
    # runs, so one always hits however fast this machine is at the moment.
    for delay in [0.0, *sorted(rng.uniform(0.05 * took, 0.8 * took) for _ in range(4))]:
        pidfile.unlink(missing_ok=True)
        before = heads(b)
        process = _pull_process(tmp_path / "b")
        _kill_remote(pidfile, process, delay)
        _out, err = process.communicate(timeout=120)
        if process.returncode:
            failed += 1
            assert err.decode().startswith("Error: "), err
        check_after_failure(a, b, before)
    assert failed  # at least one kill hit a transfer under way
    monkeypatch.delenv("ASR_TEST_PIDFILE")
    transfer.pull(b, "origin")
    assert heads(b) == heads(a)
    assert_clean(a, b)


@pytest.mark.parametrize("how", ["cut", "flip"])
def test_stream_damaged_in_flight(tmp_path, local_ssh, monkeypatch, how):
    a = project(tmp_path / "a", ["x" * 5000, "y" * 7000, "z"])
    url = f"ssh://localhost{tmp_path / 'a'}"
    b, _ = transfer.clone(url, tmp_path / "b", ["text=z"])
    uid = next(iter(heads(b)))
    revise(a, uid, "newer")  # a fast-forward waits in the stream, too
    rng = random.Random(how)
    offsets = [0, 5, 40, 200, 1000, *rng.sample(range(2000, 20000), 8)]
    for offset in offsets:
        monkeypatch.setenv("ASR_TEST_MANGLE", f"{how}:{offset}")
        before = heads(b)
        try:
            transfer.pull(b, "origin")
        except (TransferError, remote_.RemoteError):
            assert heads(b) == before, offset
        check_after_failure(a, b, before)
    monkeypatch.delenv("ASR_TEST_MANGLE")
    transfer.pull(b, "origin")
    assert heads(b) == heads(a)
    assert_clean(a, b)


def test_receiving_remote_killed_during_push(tmp_path, local_ssh, monkeypatch):
    project(tmp_path / "a", ["small"])
    url = f"ssh://localhost{tmp_path / 'a'}"
    b, _ = transfer.clone(url, tmp_path / "b")
    a = remote_.store_at(tmp_path / "a")
    big = big_project(tmp_path / "big")
    transfer.bundle_create(big, tmp_path / "big.bundle")
    transfer.unbundle(b, tmp_path / "big.bundle")  # b now has more to push
    pidfile = tmp_path / "receiver.pid"
    monkeypatch.setenv("ASR_TEST_PIDFILE", str(pidfile))
    rng = random.Random(7)
    failed = 0
    # The first kill comes as soon as the receiver runs, so one always hits.
    for delay in [0.0, *sorted(rng.uniform(0.1, 1.0) for _ in range(3))]:
        pidfile.unlink(missing_ok=True)
        before = heads(a)
        process = subprocess.Popen(
            [sys.executable, "-m", "asr.cli.main", "push"],
            cwd=tmp_path / "b",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _kill_remote(pidfile, process, delay)
        _out, err = process.communicate(timeout=120)
        if process.returncode:
            failed += 1
            assert err.decode().startswith("Error: "), err
        check_after_failure(b, a, before)
    assert failed
    monkeypatch.delenv("ASR_TEST_PIDFILE")
    transfer.push(b, "origin")
    assert heads(a) == heads(b)
    assert_clean(a, b)


WRITER = """
import sys
from pathlib import Path
from asr.core import use_store
from asr.store import open_store
from tests.remote.project import use
folder = Path(sys.argv[1])
with use_store(open_store(folder)):
    i = 0
    while not (folder / "stop").exists():
        use(f"local {i}")
        (folder / "started").touch()
        i += 1
print(i)
"""


def test_pull_while_another_process_writes(tmp_path):
    a = big_project(tmp_path / "a")
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b", ["text=nothing*"])
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "b")],
        env={**os.environ, "PYTHONPATH": f"{REPO}"},
        stdout=subprocess.PIPE,
        text=True,
    )
    while not (tmp_path / "b" / "started").exists():
        assert writer.poll() is None
        time.sleep(0.05)
    transfer.pull(b, "origin")
    (tmp_path / "b" / "stop").touch()
    written = int(writer.communicate(timeout=120)[0])
    assert writer.returncode == 0 and written > 1
    got = heads(b)
    assert len(got) == len(heads(a)) + 2 * written
    assert {u: o for u, o in got.items() if u in heads(a)} == heads(a)
    assert_clean(a, b)


GC_LOOP = """
import sys
from pathlib import Path
from asr.store import open_store
from asr.store.pack import gc
folder = Path(sys.argv[1])
store = open_store(folder)
n = 0
while not (folder / "stop").exists():
    gc(store, background=False)
    (folder / "started").touch()
    n += 1
print(n)
"""


def test_push_to_a_store_gc_is_packing(tmp_path):
    a = project(tmp_path / "a", ["x"])
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    add(b, [f"new {i}" for i in range(20)])
    gc_loop = subprocess.Popen(
        [sys.executable, "-c", GC_LOOP, str(tmp_path / "a")],
        stdout=subprocess.PIPE,
        text=True,
    )
    while not (tmp_path / "a" / "started").exists():
        assert gc_loop.poll() is None
        time.sleep(0.05)
    for i in range(3):
        add(b, [f"more {i}"])
        transfer.push(b, "origin")
    (tmp_path / "a" / "stop").touch()
    assert int(gc_loop.communicate(timeout=120)[0]) > 1
    assert heads(a) == heads(b)
    assert_clean(a, b)
