#!/usr/bin/env python
"""How fast the reading commands start, against `python -c "import click, numpy"`.

    .venv/bin/python benchmarks/startup.py            # a 10^5-record store
    .venv/bin/python benchmarks/startup.py --quick    # 10^3 records (seconds)

A store is filled with run.py's realistic records (one bulk import), plus
two Records made by instructions: one of `asr.structureinfo` (its Result
class lives in a recipe module, which `asr show` imports) and one of a
two-line instruction. Each command then runs as a user runs it, in a new
Python process, interleaved with the baseline so that both see the same
load; the table gives medians and their ratio to the baseline. Target:
`asr show ID` <= 3x the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from run import make_records  # noqa: E402

from asr.core import instruction, use_store  # noqa: E402
from asr.store import init_store  # noqa: E402

console = Console(stderr=True, highlight=False)
BASELINE = [sys.executable, "-c", "import click, numpy"]
ASR = [sys.executable, "-c", "from asr.cli.main import main; main()"]


@instruction("bench.add")
def add(a: int, b: int) -> int:
    return a + b


def fill(folder: Path, count: int) -> tuple[str, str]:
    """The store; returns the uids of the structureinfo and `bench.add` Records."""
    from ase.build import bulk

    from asr.recipes.structureinfo import main as structureinfo

    store = init_store(folder)
    with store.bulk() as writer:
        for start in range(0, count, 1000):
            for rec in make_records(start, min(1000, count - start)):
                writer.commit(rec.payload, index=rec.terms)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with use_store(store):
            info = structureinfo(atoms=bulk("Si")).uid
            other = add(1, 2).uid
    finally:
        os.chdir(cwd)
    return info, other


def wall(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^3 records")
    parser.add_argument("--repeat", type=int, default=7, help="runs per command")
    args = parser.parse_args()
    count = 1_000 if args.quick else 100_000
    folder = Path(tempfile.mkdtemp(prefix="asr-bench-startup-"))
    try:
        console.log(f"filling a store with {count:,} records")
        info, other = fill(folder / "project", count)
        commands = {
            "asr show ID (structureinfo)": ["show", info[:12]],
            "asr show ID (plain result)": ["show", other[:12]],
            "asr show SELECTION": ["show", "name=bench.add"],
            "asr log ID": ["log", info[:12]],
            "asr diff ID ID": ["diff", info[:12], other[:12]],
            "asr --help": ["--help"],
            "asr list": ["list"],
        }
        where = folder / "project"
        times: dict[str, list[float]] = {name: [] for name in ["baseline", *commands]}
        wall(BASELINE, where)  # warm the page cache
        for _ in range(args.repeat):
            for name, words in commands.items():
                times["baseline"].append(wall(BASELINE, where))
                times[name].append(wall(ASR + words, where))
        ls_seconds = wall(ASR + ["cache", "ls", "name=bench.add"], where)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base = statistics.median(times["baseline"])
    table = Table(
        "command",
        "median wall time",
        "x baseline",
        "target",
        "met",
        title=f"Start-up of reading commands, store of {count:,} records",
    )
    table.add_row('python -c "import click, numpy"', f"{base * 1e3:.0f} ms", "1.0")
    met_all = True
    for name in commands:
        seconds = statistics.median(times[name])
        ratio = seconds / base
        target = name.startswith("asr show ID")
        met = ratio <= 3.0
        met_all &= met or not target
        mark = ("[green]yes[/green]" if met else "[red]no[/red]") if target else ""
        table.add_row(
            name,
            f"{seconds * 1e3:.0f} ms",
            f"{ratio:.1f}",
            "<= 3x" if target else "",
            mark,
        )
    table.add_row(
        "asr cache ls SELECTION (reads every record, 1 run)",
        f"{ls_seconds * 1e3:.0f} ms",
        f"{ls_seconds / base:.1f}",
    )
    Console(width=max(100, Console().width)).print(table)
    return 0 if args.quick or met_all else 1


if __name__ == "__main__":
    sys.exit(main())
