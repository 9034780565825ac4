#!/usr/bin/env python
"""Benchmarks of the ASR object store, side by side with two baselines.

    .venv/bin/python benchmarks/run.py                 # full run (minutes)
    .venv/bin/python benchmarks/run.py --quick         # smoke run (seconds)
    .venv/bin/python benchmarks/run.py --only lookup --only fsck

Every figure in the table is measured in this run, on this machine, side by
side with what a user might pick instead:

* ASR store: `asr.store.DiskStore` (each commit one frame in the writing
  process's commit log, fdatasynced; hash verified on every read; big
  stores filled with `store.bulk()`);
* JSON folder: one JSON file per record, every file read on each lookup
  (what ASR did before the object store). Where scanning would take too
  long (10^6 records) it is measured at a smaller N and scaled linearly, and
  the table says so;
* joblib.Memory: a memoised function, one folder per call (filled up to
  10^4 calls; its lookup does not depend on N, and the table says where).

Records look like real ones: a ~600-byte payload (instruction, arguments
with an Atoms-like dict and numpy arrays, result, metadata) and IndexTerms
with 21 floats, all of one shape (so the 10^5-record store is also the
10^5-candidate tolerance test). The exact key stands in for asr.core's
normalised-argument hash.

One store is grown 10^3 -> 10^6 with lookups timed at each size, after it
came to rest (written back, folders unchanged for 2 s). `gc` runs last: its
deletions slow file creation on ext4 for a while. Before it, exact lookups
are timed among its 10^5 records while they are still unpacked (in commit
logs); after it, `gc` of 10^5 loose blob files (packed, then moved to a
trash that a detached process removes) is shown without a target. The
load average before the run is printed: other processes on the machine
change every figure.

Everything is written under a temporary folder in /tmp, removed at the end.
The exit status is 1 when a full run misses a target.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.store import DiskStore, IndexTerms, digest, init_store  # noqa: E402
from asr.store.fsck import fsck  # noqa: E402
from asr.store.pack import gc as store_gc  # noqa: E402
from asr.store.tables import RACY_NS  # noqa: E402

RACY_SECONDS = RACY_NS / 1e9 + 0.1

BENCHMARKS = ("lookup", "similar", "write", "bulk", "concurrent", "fsck", "gc")
console = Console(stderr=True, highlight=False)

# -- realistic records -------------------------------------------------------

NAME, VERSION = "asr.c2db.relax", 0
NUMBERS = [42, 16, 16]
BASE_POSITIONS = np.array([[0.0, 0.0, 9.0], [1.59, 0.918, 10.56], [1.59, 0.918, 7.44]])
CELL = [[3.18, 0.0, 0.0], [-1.59, 2.754, 0.0], [0.0, 0.0, 18.0]]
PRIMES = np.array([3, 5, 7, 11, 13, 17, 19, 23, 29])
PACKAGES = {"asr": "0.1.0", "ase": "3.23.0", "gpaw": "24.6.0", "numpy": "1.26.4"}
SHAPE = digest(f"{NAME}:{VERSION}:shape".encode())
EXACT_PREFIX = f"{NAME}:{VERSION}:".encode()


def jitter(i: int | np.ndarray) -> np.ndarray:
    """Per-record displacements; integer arithmetic, so bit-for-bit repeatable."""
    i = np.atleast_1d(np.asarray(i, dtype=np.int64))
    return ((i[:, None] * PRIMES) % 997 * 1e-5).reshape(-1, 3, 3)


def make_args(i: int, displacement: np.ndarray) -> dict:
    return {
        "atoms": {
            "numbers": NUMBERS,
            "positions": BASE_POSITIONS + displacement,
            "cell": CELL,
            "pbc": [True, True, False],
        },
        "calculator": {
            "name": "gpaw",
            "mode": {"name": "pw", "ecut": 400.0 + i * 0.001},
            "xc": "PBE",
            "kpts": {"density": 6.0, "gamma": True},
        },
        "fmax": 0.01,
    }


def args_floats(args: dict) -> np.ndarray:
    calc = args["calculator"]
    return np.concatenate(
        [
            args["atoms"]["positions"].ravel(),
            np.ravel(args["atoms"]["cell"]),
            [calc["mode"]["ecut"], calc["kpts"]["density"], args["fmax"]],
        ]
    )


def compute(args: dict) -> dict:
    """The 'calculation': cheap, deterministic, shaped like a real result."""
    positions = args["atoms"]["positions"]
    return {
        "energy": -21.37 - float(positions.sum()) * 1e-3,
        "forces": np.round(-(positions - BASE_POSITIONS) * 0.7, 12),
        "converged": True,
    }


def metadata(i: int) -> dict:
    return {
        "host": f"node{i % 64:03d}",
        "start": 1.7e9 + i,
        "walltime": 30.0 + i % 97,
        "ncores": 24,
        "versions": PACKAGES,
    }


@dataclass
class Rec:
    i: int
    args: dict
    payload: dict
    terms: IndexTerms


def make_records(start: int, count: int) -> list[Rec]:
    shifts = jitter(np.arange(start, start + count))
    recs = []
    for k in range(count):
        i = start + k
        args = make_args(i, shifts[k])
        floats = args_floats(args)
        terms = IndexTerms(
            exact=digest(EXACT_PREFIX + floats.tobytes()), shape=SHAPE, floats=floats
        )
        payload = {
            "instruction": NAME,
            "version": VERSION,
            "args": args,
            "result": compute(args),
            "metadata": metadata(i),
        }
        recs.append(Rec(i, args, payload, terms))
    return recs


def jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


def json_text(rec: Rec) -> str:
    return json.dumps(
        {
            "key": rec.terms.exact.hex(),
            "shape": rec.terms.shape.hex(),
            "floats": rec.terms.floats.tolist(),
            "record": jsonable(rec.payload),
        }
    )


# -- baseline (a): a folder of JSON files, scanned on lookup -----------------


def json_write(folder: Path, rec: Rec, durable: bool) -> None:
    path = folder / f"{os.urandom(16).hex()}.json"
    if not durable:
        path.write_text(json_text(rec))
        return
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, json_text(rec).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def json_scan(folder: Path) -> Iterable[dict]:
    for name in os.listdir(folder):
        if name.endswith(".json"):
            with open(folder / name, "rb") as f:
                yield json.loads(f.read())


def json_find(folder: Path, key: bytes) -> list[dict]:
    key_hex = key.hex()
    return [rec for rec in json_scan(folder) if rec["key"] == key_hex]


def json_find_similar(folder: Path, shape: bytes, floats: np.ndarray) -> list[dict]:
    shape_hex, wanted = shape.hex(), floats.tolist()
    found = []
    for rec in json_scan(folder):
        if rec["shape"] == shape_hex and len(rec["floats"]) == len(wanted):
            if all(
                math.isclose(a, b, rel_tol=1e-8, abs_tol=1e-10)
                for a, b in zip(rec["floats"], wanted)
            ):
                found.append(rec)
    return found


# -- baseline (b): joblib.Memory ------------------------------------------------

CALLS = {"count": 0}


def relax(atoms: dict, calculator: dict, fmax: float) -> dict:
    CALLS["count"] += 1
    i = round((calculator["mode"]["ecut"] - 400.0) / 0.001)
    args = {"atoms": atoms, "calculator": calculator, "fmax": fmax}
    return {"result": compute(args), "metadata": metadata(i)}


def joblib_cached(folder: Path):
    from joblib import Memory

    return Memory(str(folder), verbose=0).cache(relax)


# -- measuring ------------------------------------------------------------------


@dataclass
class Row:
    bench: str
    what: str
    target: str
    asr: str
    json: str
    joblib: str
    ok: bool | None


@dataclass
class Config:
    quick: bool
    lookup_sizes: tuple[int, ...]
    json_max: int  # largest JSON folder scanned (bigger N are extrapolated)
    joblib_max: int  # largest joblib cache filled (bigger N measured here)
    lookups: int
    similar_n: int
    writes: int
    writers: int
    per_writer: int
    fsck_n: int
    gc_n: int
    rows: list[Row] = field(default_factory=list)
    load: str = field(
        default_factory=lambda: " ".join(f"{x:.1f}" for x in os.getloadavg())
    )

    @classmethod
    def make(cls, quick: bool) -> Config:
        if quick:
            return cls(True, (10**3, 10**4), 10**3, 10**3, 300, 10**4, 200, 16, 25,
                       10**4, 2000)  # fmt: skip
        return cls(False, (10**3, 10**4, 10**5, 10**6), 10**5, 10**4, 2000, 10**5,
                   3000, 16, 500, 10**6, 10**5)  # fmt: skip


def pow10(n: int) -> str:
    exp = math.log10(n)
    return f"10^{int(exp)}" if exp == int(exp) else f"{n:,}"


def ms(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f} rec/s"


def median_time(fn: Callable[[int], object], keys: list, warmup: int = 3) -> float:
    for k in keys[:warmup]:
        fn(k)
    times = []
    for k in keys:
        t0 = time.perf_counter_ns()
        fn(k)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) * 1e-9


def log(text: str) -> None:
    console.log(text)


def settle() -> None:
    """Write back what earlier steps left in the page cache, so that the first
    fsync of the next timed step does not pay for it (a store at rest)."""
    os.sync()


class Growing:
    """One store (and its baselines) grown in steps; figures taken on the way."""

    def __init__(self, tmp: Path, cfg: Config):
        self.cfg = cfg
        self.store = init_store(tmp / "store")
        self.json_dir = tmp / "json"
        self.json_dir.mkdir()
        self.joblib = joblib_cached(tmp / "joblib")
        self.n = self.json_n = self.joblib_n = 0
        self.keys: list[bytes] = []
        self.bulk_seconds = self.json_seconds = self.joblib_seconds = 0.0
        self.filled_at = time.monotonic()

    def grow(self, n: int, chunk: int = 1000) -> None:
        log(f"filling the stores to {pow10(n)} records")
        with self.store.bulk() as writer:
            while self.n < n:
                recs = make_records(self.n, min(chunk, n - self.n))
                t0 = time.perf_counter()
                for rec in recs:
                    writer.commit(rec.payload, index=rec.terms)
                self.bulk_seconds += time.perf_counter() - t0
                self.keys += [rec.terms.exact for rec in recs]
                self._grow_baselines(recs)
                self.n += len(recs)
            t0 = time.perf_counter()
        self.bulk_seconds += time.perf_counter() - t0  # the flush at the end
        self.filled_at = time.monotonic()

    def at_rest(self) -> None:
        """Let the store come to rest before lookups are timed: written back,
        and its folders older than the window in which a reader re-lists a
        folder on every call (a just-changed mtime is not trusted)."""
        settle()
        time.sleep(max(0.0, self.filled_at + RACY_SECONDS - time.monotonic()))

    def _grow_baselines(self, recs: list[Rec]) -> None:
        for_json = [r for r in recs if r.i < self.cfg.json_max]
        t0 = time.perf_counter()
        for rec in for_json:
            json_write(self.json_dir, rec, durable=False)
        self.json_seconds += time.perf_counter() - t0
        self.json_n += len(for_json)
        for_joblib = [r for r in recs if r.i < self.cfg.joblib_max]
        t0 = time.perf_counter()
        for rec in for_joblib:
            self.joblib(**rec.args)
        self.joblib_seconds += time.perf_counter() - t0
        self.joblib_n += len(for_joblib)


def bench_lookup(g: Growing, cfg: Config, results: dict) -> None:
    n = g.n
    rng = np.random.default_rng(n)
    picks = rng.integers(0, n, cfg.lookups).tolist()
    g.at_rest()
    store = DiskStore(g.store.root)  # a fresh process-like view of the store

    def asr_find(i: int):
        found = store.find(g.keys[i])
        return found[0].payload

    median = median_time(asr_find, picks)
    for i in picks[:20]:
        (hit,) = store.find(g.keys[i])
        assert hit.payload["args"]["calculator"]["mode"]["ecut"] == 400.0 + i * 0.001
    results.setdefault("asr", {})[n] = median

    jn = g.json_n
    if n <= jn:
        few = picks[: max(3, min(50, 10**6 // n // 20))]
        jm = median_time(lambda i: json_find(g.json_dir, g.keys[i]), few, warmup=1)
        (hit,) = json_find(g.json_dir, g.keys[few[0]])
        results.setdefault("json", {})[n] = jm

    before = CALLS["count"]
    jpicks = [i % g.joblib_n for i in picks[:300]]
    recs = {i: make_records(i, 1)[0] for i in jpicks}
    jt = median_time(lambda i: g.joblib(**recs[i].args), jpicks)
    assert CALLS["count"] == before, "joblib recomputed a cached call"
    results.setdefault("joblib", {})[n] = (jt, g.joblib_n)
    log(f"lookup at {pow10(n)}: ASR {ms(median)}")


def lookup_rows(cfg: Config, results: dict) -> None:
    asr, js, jl = results["asr"], results.get("json", {}), results["joblib"]
    json_top = max(js) if js else None
    for n in cfg.lookup_sizes:
        if n in js:
            json_cell = ms(js[n])
        elif json_top:
            guess = js[json_top] * n / json_top
            json_cell = f"≈{ms(guess)} (linear from {pow10(json_top)})"
        else:
            json_cell = "—"
        jt, jn = jl[n]
        joblib_cell = ms(jt) if jn == n else f"{ms(jt)} (at {pow10(jn)} records)"
        cfg.rows.append(
            Row(
                "lookup",
                f"cache lookup, exact hit, {pow10(n)} records (median)",
                "< 0.2 ms",
                ms(asr[n]),
                json_cell,
                joblib_cell,
                asr[n] < 2e-4,
            )
        )
    if len(asr) > 1:
        spread = max(asr.values()) / min(asr.values())
        js_spread = max(js.values()) / min(js.values()) if len(js) > 1 else None
        jl_times = [t for t, _n in jl.values()]
        lo, hi = pow10(min(asr)), pow10(max(asr))
        cfg.rows.append(
            Row(
                "lookup",
                f"lookup flat over N: slowest / fastest median, {lo}..{hi}",
                "flat (< 2x)",
                f"{spread:.2f}x",
                "—" if js_spread is None else f"{js_spread:.0f}x (to {pow10(max(js))})",
                f"{max(jl_times) / min(jl_times):.2f}x",
                spread < 2.0,
            )
        )


def bench_similar(g: Growing, cfg: Config) -> None:
    n = g.n
    g.at_rest()
    store = DiskStore(g.store.root)
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, 50 if not cfg.quick else 20).tolist()
    queries = {}
    for i in picks:
        floats = make_records(i, 1)[0].terms.floats
        queries[i] = floats * (1 + 1e-12)  # equal within tolerance, not exactly
    median = median_time(lambda i: store.find_similar(SHAPE, queries[i]), picks)
    for i in picks[:5]:
        (hit,) = store.find_similar(SHAPE, queries[i])
        assert hit.payload["metadata"]["start"] == 1.7e9 + i
    log(f"tolerance lookup among {pow10(n)}: ASR {ms(median)}")
    json_cell = "—"
    if g.json_n == n:
        few = picks[:3]
        jm = median_time(
            lambda i: json_find_similar(g.json_dir, SHAPE, queries[i]), few, warmup=0
        )
        assert len(json_find_similar(g.json_dir, SHAPE, queries[few[0]])) == 1
        json_cell = ms(jm)
    cfg.rows.append(
        Row(
            "similar",
            f"tolerance lookup, {pow10(n)} same-shape candidates (median)",
            "< 10 ms",
            ms(median),
            json_cell,
            "not supported (exact hashes only)",
            median < 0.010,
        )
    )


def bench_bulk(g: Growing, cfg: Config) -> None:
    asr = g.n / g.bulk_seconds
    json_rate = g.json_n / g.json_seconds if g.json_seconds else 0
    joblib_rate = g.joblib_n / g.joblib_seconds if g.joblib_seconds else 0
    log(f"bulk import of {pow10(g.n)}: ASR {rate(asr)}")
    cfg.rows.append(
        Row(
            "bulk",
            f"bulk import, {pow10(g.n)} records (store.bulk())",
            ">= 30,000 rec/s",
            rate(asr),
            f"{rate(json_rate)} ({pow10(g.json_n)}, no fsync)",
            f"{rate(joblib_rate)} ({pow10(g.joblib_n)}, no batch API, no fsync)",
            asr >= 30_000,
        )
    )


def bench_fsck(g: Growing, cfg: Config) -> None:
    store = DiskStore(g.store.root)
    log(f"fsck over {pow10(g.n)} objects")
    t0 = time.perf_counter()
    report = fsck(store)
    seconds = time.perf_counter() - t0
    assert report.ok, report.errors[:5]
    assert report.objects >= g.n, report.objects
    log(f"fsck: {seconds:.1f} s for {report.objects} objects")
    t0 = time.perf_counter()
    parsed = sum(1 for _ in json_scan(g.json_dir))
    json_seconds = (time.perf_counter() - t0) * g.n / parsed
    scaled = "" if parsed == g.n else f", linear from {pow10(parsed)}"
    cfg.rows.append(
        Row(
            "fsck",
            f"fsck, {pow10(report.objects)} objects",
            "< 60 s",
            ms(seconds),
            f"{'≈' if scaled else ''}{ms(json_seconds)} (parse all, no checksums"
            f"{scaled})",
            "no integrity check",
            seconds < 60,
        )
    )


def grow_and_measure(tmp: Path, cfg: Config, only: set[str]) -> None:
    sizes = set()
    if "lookup" in only:
        sizes |= set(cfg.lookup_sizes)
    if "similar" in only:
        sizes.add(cfg.similar_n)
    if "fsck" in only:
        sizes.add(cfg.fsck_n)
    if "bulk" in only:
        sizes.add(max(cfg.lookup_sizes))
    if not sizes:
        return
    g = Growing(tmp / "grown", cfg)
    results: dict = {}
    for n in sorted(sizes):
        g.grow(n)
        if "lookup" in only and n in cfg.lookup_sizes:
            bench_lookup(g, cfg, results)
        if "similar" in only and n == cfg.similar_n:
            bench_similar(g, cfg)
    if "lookup" in only:
        lookup_rows(cfg, results)
    if "bulk" in only:
        bench_bulk(g, cfg)
    if "fsck" in only and g.n == cfg.fsck_n:
        bench_fsck(g, cfg)
    g.store.close()


# -- writes -------------------------------------------------------------------


def bench_write(tmp: Path, cfg: Config) -> None:
    recs = make_records(0, cfg.writes)
    store = init_store(tmp / "write-store")
    assert store.durable
    settle()
    t0 = time.perf_counter()
    for rec in recs:
        store.commit(rec.payload, index=rec.terms)
    asr = len(recs) / (time.perf_counter() - t0)
    log(f"durable writes: ASR {rate(asr)}")

    folder = tmp / "write-json"
    folder.mkdir()
    settle()
    t0 = time.perf_counter()
    for rec in recs:
        json_write(folder, rec, durable=True)
    json_rate = len(recs) / (time.perf_counter() - t0)

    cached = joblib_cached(tmp / "write-joblib")
    settle()
    t0 = time.perf_counter()
    for rec in recs:
        cached(**rec.args)
    joblib_rate = len(recs) / (time.perf_counter() - t0)
    cfg.rows.append(
        Row(
            "write",
            f"durable writes, 1 process, {len(recs):,} records (commit + index)",
            ">= 1,500 rec/s",
            rate(asr),
            f"{rate(json_rate)} (fsync)",
            f"{rate(joblib_rate)} (no fsync)",
            asr >= 1500,
        )
    )


def _writer(kind: str, where: str, start: int, count: int, barrier, queue) -> None:
    recs = make_records(start, count)
    if kind == "asr":
        store = DiskStore(where)
    elif kind == "joblib":
        cached = joblib_cached(Path(where))
    barrier.wait()
    t0 = time.monotonic()
    for rec in recs:
        if kind == "asr":
            store.commit(rec.payload, index=rec.terms)
        elif kind == "json":
            json_write(Path(where), rec, durable=True)
        else:
            cached(**rec.args)
    queue.put((t0, time.monotonic()))


def run_writers(kind: str, where: Path, cfg: Config) -> float:
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(cfg.writers), ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer,
            args=(kind, str(where), k * cfg.per_writer, cfg.per_writer, barrier, queue),
        )
        for k in range(cfg.writers)
    ]
    settle()
    for p in procs:
        p.start()
    spans = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0, f"{kind} writer failed"
    seconds = max(end for _s, end in spans) - min(start for start, _e in spans)
    return cfg.writers * cfg.per_writer / seconds


def bench_concurrent(tmp: Path, cfg: Config) -> None:
    total = cfg.writers * cfg.per_writer
    expected = make_records(0, total)

    store_root = init_store(tmp / "conc-store").root
    asr = run_writers("asr", store_root, cfg)
    store = DiskStore(store_root)
    found = sum(
        1
        for rec in expected
        if [h.payload["metadata"]["start"] for h in store.find(rec.terms.exact)]
        == [1.7e9 + rec.i]
    )
    refs = sum(1 for _ in store.iter_refs())
    asr_lost = total - min(found, refs)
    log(f"{cfg.writers} writers: ASR {rate(asr)}, lost {asr_lost}")

    folder = tmp / "conc-json"
    folder.mkdir()
    json_rate = run_writers("json", folder, cfg)
    keys = {rec["key"] for rec in json_scan(folder)}
    json_lost = total - len(keys & {rec.terms.exact.hex() for rec in expected})

    joblib_rate = run_writers("joblib", tmp / "conc-joblib", cfg)
    cached = joblib_cached(tmp / "conc-joblib")
    joblib_lost = sum(
        1 for rec in expected if not cached.check_call_in_cache(**rec.args)
    )
    cfg.rows.append(
        Row(
            "concurrent",
            f"{cfg.writers} writer processes, {total:,} durable records together",
            ">= 3,000 rec/s, 0 lost",
            f"{rate(asr)}, {asr_lost} lost",
            f"{rate(json_rate)}, {json_lost} lost (fsync)",
            f"{rate(joblib_rate)}, {joblib_lost} lost (no fsync)",
            asr >= 3000 and asr_lost == 0,
        )
    )


def _fill_loose(root: str, start: int, count: int, blobs: bool) -> None:
    # Unpacked is what is measured: no background gc while this process
    # writes more than a log's worth (`log.AUTO_GC_FRAMES`). A forked child:
    # the setting ends with it.
    os.environ["ASR_AUTO_GC"] = "0"
    store = DiskStore(root)
    store.durable = False  # the fill is not what is measured
    for rec in make_records(start, count):
        if blobs:  # a loose file each
            store.put_blob(json_text(rec).encode())
        else:  # a frame each in the process's commit log
            store.commit(rec.payload, index=rec.terms)


def fill_loose(root: Path, n: int, blobs: bool = False) -> DiskStore:
    """`n` unpacked objects, written by two processes at once."""
    ctx = multiprocessing.get_context("fork")
    half = n // 2
    procs = [
        ctx.Process(target=_fill_loose, args=(str(root), 0, half, blobs)),
        ctx.Process(target=_fill_loose, args=(str(root), half, n - half, blobs)),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    store = DiskStore(root)
    loose = sum(1 for _ in store.iter_loose_object_ids())
    assert loose == n, loose
    return store


def bench_loose_lookup(store: DiskStore, cfg: Config) -> None:
    """Exact lookups among records not packed yet (in commit logs)."""
    n = cfg.gc_n
    rng = np.random.default_rng(7)
    picks = rng.integers(0, n, min(cfg.lookups, 500)).tolist()
    keys = {i: make_records(i, 1)[0].terms.exact for i in picks}
    reader = DiskStore(store.root)  # reads the logs once, in the warm-up
    median = median_time(lambda i: reader.find(keys[i])[0].payload, picks)
    for i in picks[:5]:
        (hit,) = reader.find(keys[i])
        assert hit.payload["metadata"]["start"] == 1.7e9 + i
    log(f"lookup among {pow10(n)} unpacked records: ASR {ms(median)}")
    cfg.rows.append(
        Row(
            "lookup",
            f"cache lookup, exact hit, {pow10(n)} unpacked records (median)",
            "< 0.2 ms",
            ms(median),
            "—",
            "—",
            median < 2e-4,
        )
    )


def bench_gc(tmp: Path, cfg: Config) -> None:
    n = cfg.gc_n
    root = init_store(tmp / "gc-store").root
    log(f"writing {pow10(n)} loose records for gc")
    store = fill_loose(root, n)
    bench_loose_lookup(store, cfg)
    settle()
    t0 = time.perf_counter()
    report = store_gc(store)
    seconds = time.perf_counter() - t0
    assert report.packed_objects == n and report.removed_loose == n, report
    assert not any(True for _ in store.iter_loose_object_ids())
    for rec in make_records(n - 5, 5):
        assert len(store.find(rec.terms.exact)) == 1
    log(f"gc of {pow10(n)} loose objects: {seconds:.1f} s")
    cfg.rows.append(
        Row(
            "gc",
            f"gc: pack {pow10(n)} unpacked records (commit logs, + index entries)",
            "< 10 s",
            ms(seconds),
            "no packing",
            "no packing",
            seconds < 10,
        )
    )
    bench_gc_blobs(tmp, cfg)


def bench_gc_blobs(tmp: Path, cfg: Config) -> None:
    """Loose files (blobs) are moved to a trash, removed in the background."""
    n = cfg.gc_n
    root = init_store(tmp / "gc-blobs").root
    log(f"writing {pow10(n)} loose blob files for gc")
    store = fill_loose(root, n, blobs=True)
    settle()
    t0 = time.perf_counter()
    report = store_gc(store)
    seconds = time.perf_counter() - t0
    assert report.packed_objects == n and report.removed_loose == n, report
    log(f"gc of {pow10(n)} loose blob files: {seconds:.1f} s")
    cfg.rows.append(
        Row(
            "gc",
            f"gc: pack {pow10(n)} loose blob files (removed in the background)",
            "(no target)",
            ms(seconds),
            "no packing",
            "no packing",
            None,
        )
    )


# -- main -----------------------------------------------------------------------


def print_table(cfg: Config, seconds: float) -> None:
    kind = "quick smoke run (small N)" if cfg.quick else "full run"
    table = Table(
        title=(
            f"ASR store benchmarks: {kind}, {os.cpu_count()} cores, "
            f"{seconds:.0f} s, load average before the run {cfg.load}"
        ),
        caption=(
            "Lookups: median of single calls in one process, warm caches, store "
            "at rest (written back, unchanged for 2 s). Records: ~600-byte "
            "payloads with numpy arrays, 21 index floats. JSON folder: one file "
            "per record, all read on every lookup; 'linear from' = measured at a "
            "smaller N and scaled. joblib.Memory: one folder per call, no fsync."
        ),
    )
    table.add_column("Benchmark")
    table.add_column("Target")
    table.add_column("ASR store", justify="right")
    table.add_column("JSON folder (scan)")
    table.add_column("joblib.Memory")
    table.add_column("")
    for row in cfg.rows:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: ""}[row.ok]
        table.add_row(row.what, row.target, row.asr, row.json, row.joblib, mark)
    Console(width=max(160, Console().width)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    options = parser.parse_args(argv)
    only = set(options.only or BENCHMARKS)
    cfg = Config.make(options.quick)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="asr-bench-", dir="/tmp"))
    try:
        if "write" in only:
            bench_write(tmp, cfg)
        if "concurrent" in only:
            bench_concurrent(tmp, cfg)
        grow_and_measure(tmp, cfg, only)
        if "gc" in only:  # last: its many deletions slow file creation for a while
            bench_gc(tmp, cfg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    order = {name: k for k, name in enumerate(BENCHMARKS)}
    cfg.rows.sort(key=lambda row: order[row.bench])
    print_table(cfg, time.perf_counter() - start)
    missed = [row.what for row in cfg.rows if row.ok is False]
    return 1 if missed and not cfg.quick else 0


if __name__ == "__main__":
    sys.exit(main())
