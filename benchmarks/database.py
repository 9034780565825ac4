#!/usr/bin/env python
"""Benchmark of `asr database`: fromtree over a tree of material folders.

    .venv/bin/python benchmarks/database.py            # 1,000 folders x 20 Records
    .venv/bin/python benchmarks/database.py --quick    # 50 folders (seconds)
    .venv/bin/python benchmarks/database.py --folders 200 --records 10 --workers 2

The tree is filled quickly: Record payloads (realistic arguments, one
Result with database keys per folder, dependencies, one migrated revision
per folder) are written with `store.bulk()`, each with
``metadata["directory"]`` set to its folder. Then `fromtree` (the timed
target), `totree`, `split` and `merge` run on it. Everything is written under
a temporary folder in /tmp, removed at the end. Exit status 1 when a full run
misses the fromtree target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.core import Dependency, Record, Revision  # noqa: E402
from asr.core.arguments import index_terms  # noqa: E402
from asr.database import fromtree, merge, split, totree  # noqa: E402
from asr.recipes.structureinfo import StructureInfoResult  # noqa: E402
from asr.store import IndexTerms, ObjectId, Uid, init_store  # noqa: E402
from asr.store.objects import record_header  # noqa: E402

TARGET_SECONDS = 60.0
console = Console(stderr=True, highlight=False)
VERSIONS = {"python": "3.11.2", "asr": "0.1.0", "ase": "3.29.0", "gpaw": "24.6.0"}
NAMES = [
    "asr.relax",
    "asr.structureinfo",
    "asr.gs",
    "asr.bandstructure",
    "asr.dos",
    "asr.pdos",
    "asr.magnetic_anisotropy",
    "asr.bader",
    "asr.phonons",
    "asr.stiffness",
]


def material(i: int) -> Atoms:
    """A MoS2-like 2D structure, slightly different for each folder."""
    shift = ((i * np.array([3, 5, 7])) % 97) * 1e-4
    return Atoms(
        numbers=[42, 16, 16],
        positions=np.array([[0.0, 0.0, 9.0], [1.59, 0.918, 10.56], [1.59, 0.918, 7.44]])
        + shift,
        cell=[[3.18, 0.0, 0.0], [-1.59, 2.754, 0.0], [0.0, 0.0, 18.0]],
        pbc=[True, True, False],
    )


def metadata(folder: str, i: int) -> dict:
    return {
        "start": 1.7e9 + i,
        "end": 1.7e9 + i + 30.0,
        "wall_time": 30.0,
        "host": f"node{i % 64:03d}",
        "cores": 24,
        "mpi_ranks": 24,
        "versions": VERSIONS,
        "pid": 1000 + i,
        "directory": folder,
    }


def fill_folder(bulk, top: Path, i: int, nrecords: int) -> None:
    """A material folder: structure.json and `nrecords` Records made there."""
    folder = f"materials/m{i:05d}"
    path = top / folder
    path.mkdir(parents=True)
    atoms = material(i)
    atoms.write(path / "structure.json")
    first: tuple[Uid, ObjectId] | None = None
    for k in range(nrecords):
        name = NAMES[k % len(NAMES)]
        arguments = {
            "atoms": atoms,
            "calculator": {
                "name": "gpaw",
                "mode": {"name": "pw", "ecut": 800.0},
                "xc": "PBE",
                "kpts": {"density": 12.0 + k, "gamma": True},
            },
        }
        if name == "asr.structureinfo" and k < len(NAMES):
            arguments = {"atoms": atoms, "symprec": 1e-3}
            result = StructureInfoResult(
                formula="MoS2",
                stoichiometry="AB2",
                crystal_type="AB2-187-bi",
                spacegroup="P-6m2",
                spgnum=187,
                pointgroup="-6m2",
                wyckoff=["a", "i", "i"],
                cell_lengths=np.array([3.18, 3.18, 18.0]),
                cell_angles=np.array([90.0, 90.0, 120.0]),
                dimensionality=2,
                natoms=3,
                volume=8.76 + i * 1e-6,
            )
        else:
            result = {
                "energy": -21.37 - i * 1e-3 - k,
                "forces": np.full((3, 3), 1e-3 * k),
                "eigenvalues": np.linspace(-5, 5, 64) + k,
            }
        record = Record(
            name=name,
            version=0,
            arguments=arguments,
            result=result,
            metadata=metadata(folder, i * nrecords + k),
            dependencies=[] if first is None else [Dependency(*first)],
        )
        terms: IndexTerms = index_terms(name, 0, arguments)
        uid = Uid.new()
        oid = bulk.put_object(
            "record", record_header(uid, None, terms), record.to_payload()
        )
        if k == 1:  # one migrated Record per folder: two revisions
            record.revision = Revision(
                "bench-migration", "bench.migrate", "Add a unit", [{"added": "unit"}]
            )
            oid = bulk.put_object(
                "record", record_header(uid, oid, terms), record.to_payload()
            )
        bulk.set_ref(uid, oid)
        if first is None:
            first = (uid, oid)


def make_tree(top: Path, nfolders: int, nrecords: int) -> list[str]:
    store = init_store(top)
    with store.bulk() as bulk:
        for i in range(nfolders):
            fill_folder(bulk, top, i, nrecords)
    return sorted(str(p) for p in (top / "materials").iterdir())


CPU: dict[str, float] = {}


def cpu_seconds() -> float:
    """User + system time of this process and its finished workers."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(function: Callable[[], object], name: str = "") -> tuple[float, object]:
    """Wall time of a call (its CPU time goes into `CPU[name]`)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    value = function()
    CPU[name] = cpu_seconds() - cpu
    return time.perf_counter() - start, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--folders", type=int, default=None)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    nfolders = args.folders or (50 if args.quick else 1000)
    nrecords = args.records

    work = Path(tempfile.mkdtemp(prefix="asr-bench-db-"))
    try:
        top = work / "tree"
        console.print(f"Filling {nfolders} folders x {nrecords} Records ...")
        fill_seconds, folders = timed(
            lambda: make_tree(top, nfolders, nrecords), "fill"
        )
        db = str(work / "project.db")
        seconds, report = timed(
            lambda: fromtree(folders, db, workers=args.workers), "fromtree"
        )
        size = os.path.getsize(db) / 1e6
        back_seconds, back = timed(lambda: totree(db, work / "rebuilt"), "totree")
        split_seconds, parts = timed(lambda: split(db, 4), "split")
        merge_seconds, _ = timed(lambda: merge(parts, str(work / "merged.db")), "merge")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    scale = nfolders / 1000
    target = TARGET_SECONDS * scale
    ok = seconds < target
    table = Table(
        title=(
            f"asr database: {nfolders} folders x {nrecords} Records, "
            f"{os.cpu_count()} cores"
        ),
        caption=(
            f"database {size:.1f} MB; wall and CPU seconds (CPU: all processes); "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        ),
    )
    for column in ("step", "what", "wall", "CPU", "target"):
        table.add_column(column, justify="left" if column == "step" else "right")
    rows = [
        ("fill (store.bulk)", "fill", f"{nfolders * nrecords} Records", fill_seconds),
        (
            "fromtree",
            "fromtree",
            f"{report.rows} rows, {report.records} Records",
            seconds,
        ),
        (
            "totree",
            "totree",
            f"{back.records} refs, {back.objects} objects",
            back_seconds,
        ),
        ("split into 4", "split", f"{len(parts)} databases", split_seconds),
        ("merge the 4", "merge", f"{report.rows} rows", merge_seconds),
    ]
    for label, name, what, wall in rows:
        goal = ""
        if name == "fromtree":
            goal = f"< {target:.0f} s " + ("ok" if ok else "MISSED")
        table.add_row(label, what, f"{wall:.1f} s", f"{CPU[name]:.1f} s", goal)
    Console().print(table)
    if report.skipped:
        console.print(f"skipped: {report.skipped[:3]}")
        return 1
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
