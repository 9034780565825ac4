"""Instructions the MPI tests run under `mpiexec` (imported by each rank)."""

from pathlib import Path

from asr.core import instruction


def rank() -> int:
    from asr.core.mpi import world

    return world().rank


@instruction("test.mpi.emt_energy")
def energy(a: float) -> float:
    """EMT energy of fcc Cu; each rank that runs it leaves a file."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    Path(f"ran-on-rank-{rank()}").write_text("")
    atoms = bulk("Cu", a=a)
    atoms.calc = EMT()
    return float(atoms.get_potential_energy())


@instruction("test.mpi.fails_on_rank_1")
def fails_on_rank_1(x: int) -> int:
    if rank() == 1:
        raise ValueError("only rank 1 fails")
    return x
