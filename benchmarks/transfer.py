#!/usr/bin/env python
"""Benchmarks of stores that travel (`asr clone`, `asr pull`) against rsync.

    .venv/bin/python benchmarks/transfer.py                 # 10^5 Records, ~1 GB
    .venv/bin/python benchmarks/transfer.py --count 10000   # a quick run

Two stores of N Records, each with a File blob of `--blob` bytes (10 kB:
~1 GB at 10^5): *packed* (bulk-written into packs, as after `asr gc`: a few
dozen files) and *loose* (committed one by one by one process, as a
screening loop does: a loose file per blob and a commit log, which the
writer has a background gc fold every 8192 Records, `ASR_AUTO_GC_FRAMES`;
`ASR_AUTO_GC=0` keeps all 10^5 loose, the folder rsync finds slowest to
rescan and a fetch slowest to list). Each
is reached over ssh to localhost through a private sshd (started as the test
suite starts one, `tests/remote/sshd.py`) and by path; rsync goes through
the same ssh, with the options asr gives it (`rsync -a -e ssh`: its cipher
too, though rsync was measured no faster with it). Without sshd, by path only.

* clone: `asr clone` against `rsync -a` of the `.asr/` folder into an
  empty one, the median of five turns each (target: within 1.5x);
* pull 100 new: 100 Records added at the remote (bulk-written into the
  packed store, committed one by one into the loose one), then pulled,
  against rsync's rescan of the whole folder that copies only the new
  files (target from the issue: < 1 s and 10x faster than rsync). Over
  ssh twice: *cold* (a new ssh login for both) and *warm* (asr's shared
  connection of a minute before, and rsync given the same one).

Everything is written under a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.core import transfer  # noqa: E402
from asr.store import IndexTerms, autogc, digest, init_store, open_store  # noqa: E402
from asr.store import ssh as ssh_  # noqa: E402


def payload(i: int, blob) -> dict:
    return {
        "type": "asr.record",
        "name": "bench.transfer",
        "version": 0,
        "arguments": {"i": i},
        "result": {"file": blob},
        "metadata": {},
        "dependencies": [],
        "revision": None,
    }


def terms(i: int) -> IndexTerms:
    return IndexTerms(digest(b"%d" % i), digest(b"bench"), [float(i)])


def fill(store, start: int, count: int, size: int) -> None:
    """Bulk-written Records: packs, refs tables and index segments."""
    rng = np.random.default_rng(start)
    with store.bulk() as writer:
        for i in range(start, start + count):
            blob = writer.put_blob(rng.bytes(size))
            writer.commit(payload(i, blob), index=terms(i))


def commit_loose(store, start: int, count: int, size: int) -> None:
    """Records committed one by one: loose blobs, a commit log."""
    rng = np.random.default_rng(start)
    for i in range(start, start + count):
        blob = store.put_blob(rng.bytes(size))
        store.commit(payload(i, blob), index=terms(i))
    store.close()


#: Seconds each run waits before it starts (see `timed`).
SETTLE = 3.0


def timed(function) -> float:
    """Wall time of `function`, started with no dirty pages left by the step
    before (each tool would otherwise pay for the last one's writes) and
    `SETTLE` seconds after the last deletion: a virtual machine hands the
    memory of deleted files back to its host after about two seconds, and
    a gigabyte written into memory still at hand took half the time of one
    written into memory the host must give again, so whichever tool ran
    sooner after a deletion won. Now both write into given-back memory."""
    os.sync()
    time.sleep(SETTLE)
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


class Link:
    """How both tools reach the store: over a private sshd, or by path."""

    def __init__(self, sshd=None, note: str = ""):
        self.sshd = sshd
        self.name = ("ssh" if sshd else "by path") + note

    def url(self, path: Path) -> str:
        return self.sshd.url(path) if self.sshd else str(path)

    def cold(self) -> None:
        """End ssh's shared connection: the next login is a new one."""
        if self.sshd is not None:
            self.sshd.close_connections()

    def rsync(self, source: Path, target: Path, shared: bool = False) -> float:
        """`rsync -a` pulling `source/` (the remote's) into `target/`; with
        `shared`, through the connection asr's ssh shares (as asr does)."""
        if self.sshd is None:
            command = ["rsync", "-a", f"{source}/", f"{target}/"]
        else:
            words = [
                *shlex.split(os.environ[ssh_.SSH_COMMAND]),
                "-p",
                str(self.sshd.port),
            ]
            words += ssh_.cipher_options(words, "127.0.0.1")  # as asr's ssh
            ssh = shlex.join(words)
            if shared:
                ssh += (
                    " -o ControlMaster=auto -o ControlPersist=60s"
                    f" -o ControlPath={self.sshd.control}/%C"
                )
            where = f"{self.sshd.user}@127.0.0.1:{shlex.quote(str(source))}/"
            command = ["rsync", "-a", "-e", ssh, where, f"{target}/"]
        return timed(lambda: subprocess.run(command, check=True))


def clone_both(link: Link, remote: Path, b: Path, copy: Path, times: int = 5):
    """Median wall times of `rsync -a` and of `asr clone`, taken in turns,
    each into an empty folder (see `timed`) and from a new ssh login. The
    last clone is kept, and a copy made after it."""
    ours, theirs = [], []
    for _turn in range(times):
        for folder in (b, copy):
            shutil.rmtree(folder, ignore_errors=True)
        link.cold()
        theirs.append(link.rsync(remote / ".asr", copy))
        shutil.rmtree(copy)
        link.cold()
        ours.append(timed(lambda: transfer.clone(link.url(remote), b)))
    link.rsync(remote / ".asr", copy)
    return float(np.median(ours)), float(np.median(theirs))


def start_sshd(folder: Path):
    """A private sshd as the tests start one, or None (then: by path)."""
    from tests.remote.sshd import Sshd, available

    if not available():
        return None
    try:
        sshd = Sshd(folder).__enter__()
    except (RuntimeError, OSError) as err:
        print(f"sshd did not start ({err}); by path instead", file=sys.stderr)
        return None
    for key, value in sshd.environ().items():
        os.environ[key] = value
    return sshd


def made(path: Path, how: str, add, count: int, blob: int) -> None:
    took = timed(lambda: add(init_store(path), 0, count, blob))
    while autogc.running(path / ".asr"):  # the writer's own, if it started one
        time.sleep(0.1)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    files = sum(1 for f in path.rglob("*") if f.is_file())
    print(
        f"{count} Records with {blob} B blobs, {how}: .asr/ is {size / 1e9:.2f} GB"
        f" in {files} files (made in {took:.0f} s)",
        file=sys.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--blob", type=int, default=10_000, help="bytes a File")
    parser.add_argument("--no-ssh", action="store_true", help="by path only")
    parser.add_argument(
        "--stores",
        default="packed,loose",
        help="packed (after asr gc), loose (between gcs: every Record committed"
        " one by one), or both",
    )
    args = parser.parse_args()
    if shutil.which("rsync") is None:
        sys.exit("rsync is not installed: nothing to compare with")
    tmp = Path(tempfile.mkdtemp(prefix="asr-bench-transfer-"))
    sshd = None if args.no_ssh else start_sshd(tmp / "sshd")
    links = [Link(sshd), Link()] if sshd else [Link(note=" (no sshd)")]
    kinds = {"packed": fill, "loose": commit_loose}
    rows = []
    try:
        for how in args.stores.split(","):
            add = kinds[how]
            remote = tmp / how
            made(remote, how, add, args.count, args.blob)
            for n, link in enumerate(links):
                b, copy = tmp / f"{how}-b{n}", tmp / f"{how}-copy{n}"
                ours, theirs = clone_both(link, remote, b, copy)
                rows.append((f"clone, {how}, {link.name}", ours, theirs, CLONE))
                for warm in [False, True] if link.sshd else [False]:
                    if not warm:
                        link.cold()
                    start = args.count + 1000 * (2 * n + warm)
                    add(open_store(remote), start, 100, args.blob)
                    store = open_store(b)
                    ours = timed(lambda: transfer.pull(store, "origin"))  # noqa: B023
                    store.close()
                    theirs = link.rsync(remote / ".asr", copy, shared=warm)
                    state = " (warm)" if warm else " (cold)" if link.sshd else ""
                    case = f"pull 100 new, {how}, {link.name}{state}"
                    rows.append((case, ours, theirs, PULL))
    finally:
        if sshd is not None:
            sshd.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(args.count, args.blob, rows)


CLONE = "ratio <= 1.5"
PULL = "< 1 s, ratio <= 0.1"


def passes(ours: float, theirs: float, target: str) -> bool:
    if target.startswith("< 1 s"):
        return ours < 1.0 and ours <= 0.1 * theirs
    return ours <= 1.5 * theirs


def print_table(count: int, blob: int, rows: list) -> None:
    print(f"\n{count} Records, {blob} B File blob each\n")
    head = f"{'case':48} {'asr s':>8} {'rsync s':>8} {'ratio':>7}  {'target':20} result"
    print(head)
    print("-" * len(head))
    for case, ours, theirs, target in rows:
        result = "pass" if passes(ours, theirs, target) else "FAIL"
        print(
            f"{case:48} {ours:8.2f} {theirs:8.2f} {ours / theirs:7.2f}"
            f"  {target:20} {result}"
        )


if __name__ == "__main__":
    main()
