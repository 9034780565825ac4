#!/usr/bin/env python
"""Benchmarks of stores that travel (`asr clone`, `asr pull`).

    .venv/bin/python benchmarks/transfer.py                 # 10^5 Records
    .venv/bin/python benchmarks/transfer.py --count 10000   # seconds

* clone: a store of N Records, each with a 1 kB File blob, cloned by path
  (the same requests as over ssh, in one process), against `rsync -a` of
  the same `.asr/` folder when rsync is installed;
* pull: 100 new Records pulled from that store (target < 1 s: cost in
  proportion to what is new), against rsync's second run over the folder.

Everything is written under a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from asr.core import transfer
from asr.store import IndexTerms, digest, init_store, open_store


def fill(store, start: int, count: int) -> None:
    rng = np.random.default_rng(start)
    with store.bulk() as writer:
        for i in range(start, start + count):
            blob = writer.put_blob(rng.bytes(1000))
            payload = {
                "type": "asr.record",
                "name": "bench.transfer",
                "version": 0,
                "arguments": {"i": i},
                "result": {"file": blob},
                "metadata": {},
                "dependencies": [],
                "revision": None,
            }
            terms = IndexTerms(digest(b"%d" % i), digest(b"bench"), [float(i)])
            writer.commit(payload, index=terms)


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def rsync(source: Path, target: Path) -> float | None:
    if shutil.which("rsync") is None:
        return None
    return timed(
        lambda: subprocess.run(["rsync", "-a", f"{source}/", f"{target}/"], check=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="asr-bench-transfer-"))
    try:
        a = init_store(tmp / "a")
        fill(a, 0, args.count)
        clone = timed(lambda: transfer.clone(str(tmp / "a"), tmp / "b"))
        copy = rsync(a.root, tmp / "copy")
        fill(a, args.count, 100)
        b = open_store(tmp / "b")
        pull = timed(lambda: transfer.pull(b, "origin"))
        again = rsync(a.root, tmp / "copy")
        print(f"{args.count} Records, each with a 1 kB blob")
        print(f"clone            {clone:8.2f} s", _vs(clone, copy))
        print(f"pull 100 new     {pull:8.2f} s (target < 1 s)", _vs(pull, again))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _vs(ours: float, theirs: float | None) -> str:
    if theirs is None:
        return "(rsync is not installed: no comparison)"
    return f"rsync -a {theirs:.2f} s, ratio {ours / theirs:.2f}"


if __name__ == "__main__":
    main()
