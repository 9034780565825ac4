#!/usr/bin/env python
"""Benchmarks of the caching layer and of migrations.

    .venv/bin/python benchmarks/core.py            # 10^5 records (a minute or two)
    .venv/bin/python benchmarks/core.py --quick    # 10^3 records (seconds)
    .venv/bin/python benchmarks/core.py --only migrate --count 100000

* hit: calling an instruction whose Record is in a store of N records, with
  an Atoms argument of 1,000 atoms (target < 1 ms median), against
  `joblib.Memory` caching the same function in the same run;
* miss: calling an instruction on arguments it has not seen, with a trivial
  function (lock, look again, run, commit), against `joblib.Memory`'s miss
  on the same function, interleaved. A commit fdatasyncs its commit-log
  frame (the commit point; joblib syncs nothing), which on a busy disk costs
  more than all the rest, so the target (<= 2x) is checked on a RAM disk
  (/dev/shm), where the sync is free: the caching layer's own cost. The
  figure on disk is shown too;
* select: `asr cache ls name=X folder=Y` (one match) in a new process, over
  N Records of 25 instructions in N/25 folders (target < 2 s at 10^5), the
  same selection through `asr.core.cache.select`, and the full listing;
  each against the figure measured before selections streamed;
* migrate: the work of `asr cache migrate` (a dry run: plan only) and of
  `asr cache migrate --apply` (plan and apply in one pass) over N records
  (target >= 5,000 records/s), and the command itself, run as a user runs
  it (a new Python process: imports, plan and apply, progress bar, table).
  Both run in a child process; "memory" is its peak resident set size
  (`VmHWM`): for the work, the increase over the peak before it began
  (imports and opening the store); for the command, the whole process.

Everything is written under a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.core import Record, instruction, use_store  # noqa: E402
from asr.core.arguments import index_terms  # noqa: E402
from asr.core.metadata import run_metadata  # noqa: E402
from asr.core.migration import Migration, MigrationSelector, Selector  # noqa: E402
from asr.store import DiskStore, init_store  # noqa: E402
from asr.store.pack import gc  # noqa: E402

console = Console(stderr=True, highlight=False)
NAME = "bench.energy"


def energy(atoms: Atoms, scale: float = 1.0) -> float:
    """A cheap stand-in for a calculation."""
    return float(np.sum(atoms.positions) * scale)


def big_atoms(n: int = 1000, seed: int = 0) -> Atoms:
    rng = np.random.default_rng(seed)
    return Atoms(
        "Cu" * n, positions=rng.random((n, 3)) * 30, cell=[30, 30, 30], pbc=True
    )


def fill(store, count: int, version: int = 0) -> None:
    """`count` Records of `NAME` with small Atoms, through one bulk import."""
    meta = run_metadata(0.0, 0.0, (), ".")
    with store.bulk() as batch:
        for i in range(count):
            atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74 + i * 1e-4]])
            arguments = {"atoms": atoms, "scale": 1.0}
            record = Record(NAME, version, arguments, float(i), metadata=meta)
            batch.commit(
                record.to_payload(), index=index_terms(NAME, version, arguments)
            )


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bench_hit(folder: Path, count: int) -> list[tuple]:
    import joblib

    store = init_store(folder / "hit")
    fill(store, count)
    cached = instruction(NAME)(energy)
    atoms = big_atoms()
    with use_store(store):
        cached(atoms)  # the miss that stores it
        asr_ms = median_ms(lambda: cached(atoms), 300)
    memory = joblib.Memory(folder / "joblib", verbose=0)
    memoised = memory.cache(energy)
    memoised(atoms)
    joblib_ms = median_ms(lambda: memoised(atoms), 300)
    plain_ms = median_ms(lambda: energy(atoms), 300)
    return [
        (
            "hit, 1,000-atom Atoms",
            f"{count:,} records",
            f"{asr_ms:.3f} ms",
            "",
            f"{joblib_ms:.3f} ms",
            "< 1 ms",
            asr_ms < 1.0,
        ),
        ("(the function itself)", "", f"{plain_ms:.3f} ms", "", "", "", None),
    ]


def square(x: float) -> float:
    """A trivial function: a miss then costs only the caching layer."""
    return x * x


def miss_times(folder: Path, rounds: int = 12) -> tuple[float, float, int]:
    """Median ms of a miss through ASR and through joblib.Memory, in `folder`."""
    import joblib

    store = init_store(folder / "miss")
    cached = instruction("bench.square")(square)
    memoised = joblib.Memory(folder / "joblib-miss", verbose=0).cache(square)
    times: dict[str, list[float]] = {"asr": [], "joblib": []}
    calls = {"asr": cached, "joblib": memoised}
    x = 0.0
    with use_store(store):
        for round_ in range(rounds):  # interleaved, so both see the same load
            for name, call in calls.items():
                for _ in range(25):
                    x += 1.0
                    start = time.perf_counter()
                    call(x)
                    if round_:  # the first round warms up
                        times[name].append(time.perf_counter() - start)
    asr_ms, joblib_ms = (statistics.median(times[k]) * 1e3 for k in calls)
    return asr_ms, joblib_ms, len(times["asr"])


def bench_miss(folder: Path, count: int) -> list[tuple]:
    rows = []
    ram = Path("/dev/shm")
    if ram.is_dir():
        with tempfile.TemporaryDirectory(dir=ram) as where:
            asr_ms, joblib_ms, n = miss_times(Path(where))
        ratio = asr_ms / joblib_ms
        rows.append(
            (
                "miss, trivial function, RAM disk",
                f"{n} misses",
                f"{asr_ms:.3f} ms ({ratio:.1f}x)",
                "",
                f"{joblib_ms:.3f} ms",
                "<= 2x joblib",
                ratio <= 2.0,
            )
        )
    asr_ms, joblib_ms, n = miss_times(folder)
    rows.append(
        (
            "miss, trivial function, disk",
            f"{n} misses",
            f"{asr_ms:.3f} ms ({asr_ms / joblib_ms:.1f}x)",
            "",
            f"{joblib_ms:.3f} ms",
            "(fdatasync: ASR only)",
            None,
        )
    )
    return rows


def bump(record: Record) -> Record:
    record.version = 1
    return record


BUMP = MigrationSelector(
    Selector(name=NAME, version=0), Migration("bench-0-1", "Bump", bump)
)


# The peak resident set size of this process (kB), as a script's line. Not
# `ru_maxrss`: on Linux a child's starts at its parent's peak at the fork.
PEAK = """
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
"""

# `asr cache migrate` (a dry run) and `asr cache migrate --apply` (plan and
# apply in one pass) in a new process, which reports its times and its peak
# memory before, after the dry run and after applying.
MIGRATE = (
    PEAK
    + """
import json, sys, time
sys.path[:0] = [{root!r}, {here!r}]
from asr.core.migration import apply_migrations, plan_migrations
from asr.store import DiskStore
from core import BUMP

store = DiskStore({folder!r})
before = peak_kb()
start = time.perf_counter()
planned = plan_migrations(store, [BUMP]).total
plan_seconds, after_plan = time.perf_counter() - start, peak_kb()
start = time.perf_counter()
migrated = apply_migrations(store, [BUMP]).migrated
print(json.dumps(dict(
    planned=planned, migrated=migrated, plan=plan_seconds,
    apply=time.perf_counter() - start, before_kb=before,
    plan_kb=after_plan, apply_kb=peak_kb(),
)))
"""
)


def run_child(script: str, cwd: Path) -> dict:
    """Run a Python script in a new process; the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def megabytes(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def bench_migrate(folder: Path, count: int) -> list[tuple]:
    store = init_store(folder / "migrate")
    fill(store, count)
    here = Path(__file__).resolve().parent
    script = MIGRATE.format(
        root=str(here.parent), here=str(here), folder=str(store.root)
    )
    figures = run_child(script, folder)
    assert figures["planned"] == figures["migrated"] == count, (figures, count)
    before = figures["before_kb"]
    store.refresh()
    # The migration left a loose ref per Record; gc packs them into one table.
    listed = time.perf_counter()
    refs = sum(1 for _ in store.iter_refs())
    loose_listing = time.perf_counter() - listed
    packing = time.perf_counter()
    report = gc(store, background=False)
    packed = time.perf_counter() - packing
    assert report.packed_refs == count == refs, (report.packed_refs, count, refs)
    listed = time.perf_counter()
    assert sum(1 for _ in DiskStore(store.root).iter_refs()) == count
    packed_listing = time.perf_counter() - listed
    return [
        rate_row(
            "migrate: plan (dry run)",
            count,
            figures["plan"],
            memory="+" + megabytes(figures["plan_kb"] - before),
        ),
        rate_row(
            "migrate: plan + apply (one pass)",
            count,
            figures["apply"],
            target=5000,
            memory="+" + megabytes(figures["apply_kb"] - before),
        ),
        rate_row("gc after it: loose refs packed", count, packed),
        rate_row("list refs (iter_refs): loose", count, loose_listing),
        rate_row("list refs (iter_refs): after gc", count, packed_listing),
    ]


# `asr cache migrate --apply` with the benchmark's migration registered; at
# exit it prints its peak memory.
CLI = (
    PEAK
    + """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(dict(peak_kb=peak_kb()))))
sys.path[:0] = [{root!r}, {here!r}]
from asr.core.migration import register_migration
from core import BUMP
register_migration(BUMP.migration, BUMP.selector)
from asr.cli.main import main
main(["cache", "migrate", "--apply"])
"""
)


def bench_migrate_cli(folder: Path, count: int) -> list[tuple]:
    store = init_store(folder / "cli")
    fill(store, count)
    here = Path(__file__).resolve().parent
    script = CLI.format(root=str(here.parent), here=str(here))
    start = time.perf_counter()
    peak = run_child(script, folder / "cli")["peak_kb"]
    seconds = time.perf_counter() - start
    store.refresh()
    assert all(store.get(oid).payload["version"] == 1 for _, oid in store.iter_refs())
    return [
        rate_row(
            "asr cache migrate --apply",
            count,
            seconds,
            target=5000,
            memory=megabytes(peak) + " (process)",
        ),
    ]


def fill_project(store, count: int, names: int = 25) -> None:
    """`count` Records as a project has them: `names` instructions in each
    of count/names folders (tree/M00000 ...), each with Atoms, a calculator
    and a result of 100 floats, through one bulk import."""
    rng = np.random.default_rng(0)
    base = run_metadata(0.0, 0.0, (), ".")
    with store.bulk() as batch:
        for i in range(count):
            folder, n = divmod(i, names)
            atoms = Atoms("MoS2", positions=rng.random((3, 3)) * 3, cell=[3, 3, 20])
            name = f"bench.r{n:02d}"
            arguments = {"atoms": atoms, "calculator": {"mode": "pw", "ecut": 800.0}}
            meta = dict(base, directory=f"tree/M{folder:05d}", start=1.7e9 + i)
            result = {"energy": float(i), "eigenvalues": rng.random(100)}
            record = Record(name, 0, arguments, result, metadata=meta)
            batch.commit(record.to_payload(), index=index_terms(name, 0, arguments))


# `asr cache ls` as a user runs it: a new process, wall time.
def time_cli(cwd: Path, *words: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "cache", "ls", *words],
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    ).stdout
    return time.perf_counter() - start, out.strip().splitlines()[-1]


# Measured on 10^5 Records before selections streamed (a shared 2-core
# machine under load): every Record read and decoded whole.
BEFORE = {"cli": "10-15 s", "python": "10-12 s", "all": "~110 s"}


def bench_select(folder: Path, count: int) -> list[tuple]:
    store = init_store(folder / "select")
    fill_project(store, count)
    where = f"tree/M{count // 25 // 2:05d}"
    seconds, last = time_cli(folder / "select", "name=bench.r03", f"folder={where}")
    assert last == "1 records", last
    from asr.core.cache import select

    start = time.perf_counter()
    found = select(DiskStore(store.root), name="bench.r03", folder=where)
    python = time.perf_counter() - start
    assert len(found) == 1
    listed, last = time_cli(folder / "select")
    assert last == f"{count} records", last
    return [
        (
            "asr cache ls name=X folder=Y",
            f"{count:,} records",
            f"{seconds:.2f} s",
            "",
            "",
            f"< 2 s (was {BEFORE['cli']})",
            seconds < 2,
        ),
        (
            "cache.select(name=X, folder=Y)",
            f"{count:,} records",
            f"{python:.2f} s",
            "",
            "",
            f"(was {BEFORE['python']})",
            None,
        ),
        (
            "asr cache ls (all, as a table)",
            f"{count:,} records",
            f"{listed:.1f} s",
            "",
            "",
            f"not slower (was {BEFORE['all']})",
            None,
        ),
    ]


def rate_row(
    name: str,
    count: int,
    seconds: float,
    target: int | None = None,
    memory: str = "",
):
    rate = count / seconds
    return (
        name,
        f"{count:,} records",
        f"{rate:,.0f} /s",
        memory,
        "",
        "" if target is None else f">= {target:,} /s",
        None if target is None else rate >= target,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^3 records only")
    parser.add_argument("--count", type=int, help="records (default 10^5)")
    parser.add_argument(
        "--only",
        choices=["hit", "miss", "migrate", "cli", "select"],
        help="one benchmark only",
    )
    args = parser.parse_args()
    count = args.count or (1_000 if args.quick else 100_000)
    benches = {
        "hit": bench_hit,
        "miss": bench_miss,
        "migrate": bench_migrate,
        "cli": bench_migrate_cli,
        "select": bench_select,
    }
    folder = Path(tempfile.mkdtemp(prefix="asr-bench-core-"))
    try:
        rows = []
        for name, bench in benches.items():
            if args.only in (None, name):
                rows += bench(folder, count)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table = Table(
        "benchmark",
        "size",
        "ASR",
        "memory (peak RSS)",
        "joblib.Memory",
        "target",
        "met",
        title="Caching layer and migrations",
    )
    for name, size, asr, memory, joblib_figure, target, met in rows:
        mark = "" if met is None else ("[green]yes[/green]" if met else "[red]no[/red]")
        table.add_row(name, size, asr, memory, joblib_figure, target, mark)
    Console(width=max(120, Console().width)).print(table)
    return 0 if args.quick or all(r[-1] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
