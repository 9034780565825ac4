"""The MPI world of this process, decided once, before any rank looks up.

ASE's `ase.parallel.world` picks its backend on first use, and GPAW starts
MPI only under `gpaw python` (or with GPAW_MPI_BACKEND=cgpaw). Started by
`mpiexec python ...`, `mpiexec asr run ...` or `srun`, every rank would
believe it runs alone: each would look up, lock and compute on its own.
So ASR detects the launcher itself and makes GPAW's MPI world the world of
ASE and of ASR, before the first lookup. Rank 0 alone reads and writes the
store (and prints); the other ranks get what it found or wrote.

Outside a launcher nothing here imports ASE or GPAW.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Set by the MPI launchers of Open MPI, MPICH/Hydra, Intel MPI and SLURM's
#: srun (PMI/PMIx); a plain `python` or a SLURM batch script has none of them.
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "I_MPI_MPIRUN")

HOW_TO_LAUNCH = "run `make install` for a GPAW with MPI, or start without mpiexec"


class MPILaunchError(Exception):
    """Started by an MPI launcher, but no MPI world can be made here."""


@functools.cache  # a launcher's variables are set before the process starts
def launched_by_mpi() -> bool:
    """True if an MPI launcher (mpiexec, mpirun, srun) started this process."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


@functools.cache
def world() -> Any:
    """ASE's `world`, made GPAW's MPI world first when under a launcher."""
    import ase.parallel

    if launched_by_mpi() and not _uses_mpi4py():
        # Something (ase.io.read, say) may have resolved ASE's world to a
        # serial one already: forget it, or GPAW refuses to start.
        ase.parallel.world.comm = None
        ase.parallel.world.comm = _gpaw_world()
    return ase.parallel.world


def size() -> int:
    return world().size if launched_by_mpi() else 1


def is_root() -> bool:
    """True on rank 0, and always outside an MPI launcher."""
    if not launched_by_mpi():
        return True
    try:
        return world().rank == 0
    except MPILaunchError:  # no world: the launcher's rank, so one rank says so
        return _launcher_rank() == 0


def _launcher_rank() -> int:
    for name in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _uses_mpi4py() -> bool:
    return "mpi4py" in sys.modules or os.environ.get("GPAW_MPI_BACKEND") == "mpi4py"


def _gpaw_world() -> Any:
    try:
        import gpaw
        import gpaw.cgpaw as cgpaw
    except ImportError:
        raise MPILaunchError(
            f"started by an MPI launcher, but GPAW is not installed: {HOW_TO_LAUNCH}"
        ) from None
    if not cgpaw.have_mpi:
        raise MPILaunchError(
            "started by an MPI launcher, but this GPAW is built without MPI: "
            + HOW_TO_LAUNCH
        )
    if "gpaw.mpi" not in sys.modules and getattr(gpaw, "GPAW_MPI_BACKEND", None) in (
        None,
        "serial",
    ):
        gpaw.GPAW_MPI_BACKEND = "cgpaw"  # what `gpaw python` sets
    from gpaw.mpi import world as gpaw_world

    return gpaw_world


def broadcast(obj: T, root: int = 0) -> T:
    """`obj` of rank `root` on every rank (no communication when serial)."""
    if size() == 1:
        return obj
    from ase.parallel import broadcast as ase_broadcast

    return ase_broadcast(obj, root, world())


def on_root(function: Callable[[], T]) -> T:
    """Run `function` on rank 0 only; every rank returns or raises its outcome.

    An exception on rank 0 reaches every rank, so none waits forever for a
    value rank 0 will never send.
    """
    if size() == 1:
        return function()
    outcome: tuple[bool, Any] = (True, None)
    if is_root():
        try:
            outcome = (True, function())
        except Exception as err:
            outcome = (False, _portable(err))
    ok, value = broadcast(outcome)
    if not ok:
        raise value
    return value


def on_all(function: Callable[[], T]) -> T:
    """Run `function` on every rank; if it raises on any, it raises on all.

    The ranks agree on the outcome before anyone goes on (to write a
    Record, say): a rank that fails alone must not leave the others
    waiting. The first failing rank's exception is raised everywhere.
    """
    if size() == 1:
        return function()
    error: Exception | None = None
    value: Any = None
    try:
        value = function()
    except Exception as err:
        error = err
    import numpy as np

    comm = world()
    failed = np.zeros(comm.size)  # sum() of an array: GPAW's and mpi4py's worlds
    failed[comm.rank] = error is not None
    comm.sum(failed)
    if not failed.any():
        return value
    first = int(np.flatnonzero(failed)[0])
    shared = broadcast(_portable(error) if comm.rank == first else None, first)
    if error is not None:
        raise error
    shared.add_note(f"(raised on MPI rank {first})")
    raise shared


def _portable(err: Exception) -> Exception:
    """`err` if it survives pickling, else a RuntimeError with its message."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
