#!/usr/bin/env python
"""Workflow benchmark: a tree of EMT materials on MyQueue's local scheduler.

    .venv/bin/python benchmarks/workflow.py            # 200 materials (long)
    .venv/bin/python benchmarks/workflow.py --quick    # 10 materials
    .venv/bin/python benchmarks/workflow.py --materials 50 --cores 4

Each material runs ten cheap instructions (six EMT energies at strains, the
structure info, an equation of state fitted to the six energies, a bigger
supercell only when the cell is small — Python control flow on a result —
and a summary). Measured, in a temporary folder removed at the end:

* collecting: ``mq workflow --dry-run`` on an empty store (the scripts run
  in every folder, task files are written; nothing is submitted);
* ``mq workflow`` to all tasks done: every round of ``mq workflow`` and the
  wait for the local scheduler (one process per instruction);
* the rerun, all cache hits: ``mq workflow`` as a command, and the check
  alone (200 x 10 `Instruction.lookup`, in-process, the target is < 2 s),
  before and after `asr gc` packs the index;
* the resource estimates' honesty: every task's wall time predicted from
  the other Records (leave-one-out, as ``asr workflow estimate``), the
  median and worst ratio of predicted to measured, and how many tasks would
  have run out of the wall time ``resources="auto"`` asks for.

This file is also the workflow script and the instructions' module: tasks
import it as `workflow` (the benchmark puts its folder on PYTHONPATH).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from asr.core import instruction

STRAINS = (-0.02, -0.01, 0.0, 0.01, 0.02, 0.03)


@instruction("bench.energy")
def energy(atoms: Atoms, strain: float = 0.0, repeat: int = 1) -> float:
    """EMT energy per atom of `atoms` strained by `strain` (all directions)."""
    from ase.calculators.emt import EMT

    atoms = atoms.repeat(repeat)
    atoms.set_cell(atoms.cell * (1 + strain), scale_atoms=True)
    atoms.calc = EMT()
    return float(atoms.get_potential_energy()) / len(atoms)


@instruction("bench.eos")
def eos(volumes: list, energies: list) -> dict:
    """Parabola through energy(volume): minimum volume and curvature."""
    c2, c1, c0 = (float(c) for c in np.polyfit(volumes, energies, 2))
    v0 = -c1 / (2 * c2)
    return {"b": 2 * c2 * v0, "e0": c0 + c1 * v0 + c2 * v0**2, "v0": v0}


@instruction("bench.summary")
def summary(formula: str, eos: dict, supercell_energy: float | None) -> dict:
    """Everything in one row."""
    return {"formula": formula, **eos, "supercell_energy": supercell_energy}


def workflow():
    """The MyQueue workflow: ten instructions per material."""
    from ase.io import read

    from asr.workflow import run

    atoms = read("structure.json")
    energies = [run("workflow:energy", atoms, strain=s) for s in STRAINS]
    info = run("asr.structureinfo", atoms=atoms)
    volume = atoms.get_volume() / len(atoms)
    volumes = [volume * (1 + s) ** 3 for s in STRAINS]
    fit = run("workflow:eos", volumes, [e.result for e in energies])
    supercell = None
    if info.result.natoms <= 2:  # control flow: waits for structureinfo
        supercell = run("workflow:energy", atoms, repeat=2).result
    run("workflow:summary", info.result.formula, fit.result, supercell)


# -- the benchmark ----------------------------------------------------------------

ELEMENTS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")


def material(i: int) -> Atoms:
    """Material number i: element, cell kind and lattice constant vary."""
    from ase.build import bulk

    element = ELEMENTS[i % len(ELEMENTS)]
    kind = (i // len(ELEMENTS)) % 3
    stretch = 1 + 0.002 * (i // (3 * len(ELEMENTS)))
    atoms = bulk(element, "fcc", cubic=kind == 1)
    if kind == 2:
        atoms = atoms.repeat((2, 1, 1))
    atoms.set_cell(atoms.cell * stretch, scale_atoms=True)
    return atoms


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 materials")
    parser.add_argument("--materials", type=int, help="number of materials (200)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    parser.add_argument(
        "--rerun-only",
        action="store_true",
        help="fill the store in-process (no scheduler), then time the rerun",
    )
    args = parser.parse_args(argv)
    n = args.materials or (10 if args.quick else 200)
    console = Console(stderr=True, highlight=False)

    here = Path(__file__).resolve().parent
    root = Path(tempfile.mkdtemp(prefix="asr-workflow-bench-"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(here), os.environ.get("PYTHONPATH")])
        ),
        "MYQUEUE_TESTING": str(root),  # MyQueue's switch: no background daemon
    }
    os.environ.update(env)
    script = here / "workflow.py"

    from asr.store import init_store
    from asr.store.pack import gc
    from asr.workflow import drive, local

    store = init_store(root)
    folders = []
    for i in range(n):
        folder = root / "tree" / f"m{i:04d}"
        folder.mkdir(parents=True)
        material(i).write(folder / "structure.json")
        folders.append(folder)

    def mq(*words: str) -> float:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "myqueue", *words],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(
                f"mq {' '.join(words)} failed:\n{done.stdout}{done.stderr}"
            )
        return time.perf_counter() - start

    calls = 0

    def check() -> tuple[float, float, int]:
        """The rerun's check, in-process: every call must find its Record.

        Returns wall and CPU seconds (the CPU time does not count the waits
        of a loaded machine) and the number of tasks that would be submitted.
        """
        from myqueue import workflow as mq_workflow
        from myqueue.utils import chdir

        from asr.workflow.runner import tracing

        nonlocal calls
        start, cpu = time.perf_counter(), time.process_time()
        tasks = 0
        with tracing() as handles:
            for folder in folders:
                with chdir(folder):
                    tasks += len(mq_workflow.collect(workflow, script))
        calls = len(handles)
        return time.perf_counter() - start, time.process_time() - cpu, tasks

    def fill() -> None:
        """Run the workflow in every folder without MyQueue: all in-process."""
        from myqueue.utils import chdir

        from asr.core import use_store

        with use_store(store):
            for folder in folders:
                with chdir(folder):
                    workflow()

    rows = []
    where = (
        "no scheduler" if args.rerun_only else f"local scheduler, {args.cores} cores"
    )
    console.print(f"{n} materials in {root}, {where}")
    try:
        local.configure(root)
        dry = mq("workflow", "-z", str(script), *map(str, folders))
        rows.append(("collect (mq workflow --dry-run)", dry, n))
        for path in (root / "tree").glob("*/.asr-tasks"):
            shutil.rmtree(path)
        start = time.perf_counter()
        if args.rerun_only:
            fill()
            rows.append(
                (
                    "all instructions in-process (no MyQueue)",
                    time.perf_counter() - start,
                    n,
                )
            )
        else:
            local.start(root, args.cores)
            rounds = drive.drive(script, folders, poll=0.25)
            total = time.perf_counter() - start
            ntasks = sum(drive.counts(root, folders).values())
            rows.append((f"mq workflow -> all done ({rounds} rounds)", total, n))
            rows.append(("  per task x cores", total * args.cores / ntasks, None))
            local.stop(root)
            shares = own_share(root, store)
            honest = honesty_table(store)
        check()  # imports
        seconds, cpu, left = check()
        rows.append(("rerun check, in-process (target < 2 s for 200)", seconds, n))
        rows.append(("  the same, CPU time", cpu, n))
        command = mq("workflow", str(script), *map(str, folders))
        rows.append(("rerun: mq workflow (start-up + check)", command, n))
        gc(store)
        seconds, cpu, left2 = check()
        rows.append(("rerun check after asr gc", seconds, n))
        rows.append(("  the same, CPU time", cpu, n))
        assert left == left2 == 0, "a rerun found work to do"
    finally:
        local.stop(root)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    table = Table(title=f"Workflow: {n} materials, {calls} instruction calls")
    table.add_column("measure")
    table.add_column("seconds", justify="right")
    table.add_column("per material (ms)", justify="right")
    table.add_column("per instruction (ms)", justify="right")
    for name, seconds, count in rows:
        per = "" if count is None else f"{seconds / count * 1e3:.1f}"
        per10 = "" if count is None else f"{seconds / calls * 1e3:.2f}"
        table.add_row(name, f"{seconds:.2f}", per, per10)
    Console().print(table)
    if not args.rerun_only:
        Console().print(shares)
        Console().print(honest)
    return 0


def honesty_table(store, margin: float = 2.0):
    """Predicted / measured wall time of every Record, each predicted from
    the others; "hit limit" with the floor of ten minutes resources="auto"
    asks for, "over margin" without it."""
    from rich.table import Table

    from asr.workflow import estimate as est

    table = Table(title=f"Estimates, leave-one-out (margin {margin:g}x, floor 10m)")
    for column in ("instruction", "predicted", "median", "worst (lowest)"):
        table.add_column(column)
    for column in ("highest", "hit limit", "over margin"):
        table.add_column(column, justify="right")

    def row(h) -> None:
        def r(x):
            return "-" if x is None else f"{x:.2f}"

        table.add_row(
            h.name,
            f"{h.predicted} of {h.examples}",
            r(h.median_ratio),
            r(h.lowest_ratio),
            r(h.highest_ratio),
            str(h.hits),
            str(h.beyond_margin),
        )

    every = []
    for name, (_, checks) in est.check_store(store, margin=margin).items():
        every += checks
        row(est.honesty(name, checks, margin))
    table.add_section()
    row(est.honesty("all", every, margin))
    return table


def own_share(root, store):
    """How much of a task's wall time is ASR's own: the task process's time
    (MyQueue's start and stop) less the instruction's function (the Record's
    wall time) is start-up (Python, imports), lookup, lock and commit."""
    import statistics

    from rich.table import Table

    from asr.core.cache import all_records
    from asr.workflow.drive import _queue

    with _queue(root) as queue:
        rows = queue.sql("SELECT tstop - trunning FROM tasks WHERE state = 'd'", [])
        per_task = sorted(seconds for (seconds,) in rows)
    function = {}
    for record in all_records(store):
        function[record.name] = function.get(record.name, 0.0) + record.metadata.get(
            "wall_time", 0.0
        )
    total = sum(per_task)
    own = total - sum(function.values())
    table = Table(title="Where a task's wall time goes (MyQueue task vs Record)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("tasks", str(len(per_task)))
    table.add_row("task wall time, median (s)", f"{statistics.median(per_task):.3f}")
    table.add_row("instruction functions, all tasks (s)", f"{total - own:.1f}")
    table.add_row("ASR's own: start-up, lookup, lock, commit (s)", f"{own:.1f}")
    table.add_row("ASR's own share of task wall time", f"{own / total:.0%}")
    table.add_row("ASR's own per task (s)", f"{own / max(len(per_task), 1):.3f}")
    return table


if __name__ == "__main__":
    raise SystemExit(main())
