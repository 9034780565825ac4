"""Cheap instructions for the workflow tests (importable by task processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ase import Atoms

from asr.core import instruction


@instruction("test.wf.energy")
def energy(atoms: Atoms, scale: float = 1.0) -> float:
    """EMT energy of `atoms` with the cell scaled by `scale`."""
    from ase.calculators.emt import EMT

    atoms = atoms.copy()
    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
    atoms.calc = EMT()
    return float(atoms.get_potential_energy())


@instruction("test.wf.strain")
def strain(atoms: Atoms, factor: float) -> Atoms:
    """`atoms` with its cell scaled by `factor`."""
    atoms = atoms.copy()
    atoms.set_cell(atoms.cell * factor, scale_atoms=True)
    return atoms


@instruction("test.wf.nap")
def nap(seconds: float, tag: str = "") -> dict:
    """Sleep; returns when and where (to see tasks run side by side)."""
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time(), "pid": os.getpid(), "tag": tag}


@instruction("test.wf.fragile")
def fragile(atoms: Atoms) -> int:
    """Fails while a file BROKEN is in the working folder."""
    if Path("BROKEN").exists():
        raise RuntimeError("the folder holds a file BROKEN")
    return len(atoms)


@instruction("test.wf.settings")
def settings(atoms: Atoms, calculator: dict) -> float:
    """A dict argument with floats, like a calculator specification."""
    return float(calculator["density"] * len(atoms))


@instruction("test.wf.fit")
def fit(volumes: list, energies: list) -> float:
    """Arguments whose names are not in alphabetical order, with floats."""
    return float(sum(volumes) + sum(energies))


@instruction("test.wf.flaky_scf")
def flaky_scf(atoms: Atoms, calculator: dict) -> float:
    """EMT energy; raises GPAW's own SCF error while ``maxiter`` is below 100
    (a failure injected with a GPAW-like specification, healed in seconds)."""
    if calculator.get("maxiter", 333) < 100:
        from gpaw import KohnShamConvergenceError

        raise KohnShamConvergenceError("injected: SCF not converged")
    return energy.function(atoms)


@instruction("test.wf.grow")
def grow(atoms: Atoms, calculator: dict | None = None) -> float:
    """EMT energy, taking 20 ms per atom more (a cost that grows with size,
    for the resource estimates)."""
    time.sleep(0.02 * len(atoms))
    return energy.function(atoms)


@instruction("test.wf.slow_relax")
def slow_relax(atoms: Atoms, delay: float) -> dict:
    """`asr.relax` itself (its trajectory, its continuation after a kill),
    with an EMT that takes `delay` seconds per step: a relaxation that
    outlasts a wall time of seconds."""
    from ase.calculators.emt import EMT

    from asr.recipes import relax

    class SlowEMT(EMT):
        def calculate(self, *args, **kwargs):
            time.sleep(delay)
            super().calculate(*args, **kwargs)

    made = relax.calculator_for
    relax.calculator_for = lambda atoms, spec: SlowEMT()
    try:
        result = relax.main.function(
            atoms, calculator={"name": "emt"}, allow_symmetry_breaking=True
        )
    finally:
        relax.calculator_for = made
    return {"nsteps": result.nsteps, "resumed_steps": result.resumed_steps}


@instruction("test.wf.hungry")
def hungry(megabytes: int, per_core: int = 150) -> int:
    """Allocates `megabytes` under a memory limit of `per_core` MB per core
    of the task (as a scheduler's memory per core): a real MemoryError
    until the task gets enough cores."""
    import resource

    cores = int(os.environ.get("ASR_TASK_CORES", "1"))
    with open("/proc/self/statm") as file:
        used = int(file.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (used + (cores * per_core << 20), hard))
    try:
        block = bytearray(megabytes << 20)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return len(block) >> 20


@instruction("test.wf.killed")
def killed() -> int:
    """Killed by SIGKILL (as by the kernel's OOM killer) with fewer than two cores."""
    import signal

    cores = int(os.environ.get("ASR_TASK_CORES", "1"))
    if cores < 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return cores


@instruction("test.wf.hold")
def hold(path: str, timeout: float = 300.0) -> float:
    """Wait until the file `path` exists (a test lets it go): a task that
    runs exactly as long as the test needs, however loaded the machine."""
    start = time.time()
    while not Path(path).exists():
        if time.time() - start > timeout:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)
    return time.time() - start


def _version() -> int:
    """The version of test.wf.versioned: a test upgrades it between two runs
    (every process imports this module afresh, so a file says which)."""
    path = os.environ.get("TEST_WF_VERSION_FILE")
    return int(Path(path).read_text()) if path else 0


@instruction("test.wf.versioned", version=_version())
def versioned(atoms: Atoms) -> int:
    """The number of atoms, under a version number a test can change."""
    return len(atoms)
