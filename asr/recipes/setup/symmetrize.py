"""Symmetrize a structure: make it exactly as symmetric as it is to a tolerance.

spglib finds the space group within `tolerance` (Å); ASE's
`ase.spacegroup.symmetrize` then moves the cell and the atoms onto the ideal,
symmetric positions, keeping the orientation of the cell (a 2D material keeps
its vacuum along z).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.geometry import find_mic

from asr.core import Result, instruction, key
from asr.recipes.common import check_2d


@dataclass
class SymmetrizeResult(Result):
    title = "Symmetrization"
    atoms: Atoms = field(metadata=key("Symmetrized structure"))
    spacegroup_before: str = field(
        metadata=key("Space group before, found with the strict tolerance")
    )
    spgnum_before: int = field(metadata=key("Space group number before"))
    spacegroup_after: str = field(
        metadata=key("Space group after, found with the strict tolerance")
    )
    spgnum_after: int = field(metadata=key("Space group number after"))
    strict_tolerance: float = field(
        metadata=key("Tolerance used to name the space groups", "Å")
    )
    max_displacement: float = field(metadata=key("Largest distance an atom moved", "Å"))
    max_cell_change: float = field(
        metadata=key("Largest change of a cell-vector component", "Å")
    )


def spacegroup(atoms: Atoms, symprec: float) -> tuple[str, int]:
    from ase.spacegroup.symmetrize import check_symmetry  # imports SciPy

    dataset = check_symmetry(atoms, symprec=symprec)
    if dataset is None:
        raise ValueError(f"spglib found no space group with tolerance {symprec} Å")
    return str(dataset.international), int(dataset.number)


@instruction("asr.setup.symmetrize", version=0)
def main(atoms: Atoms, tolerance: float = 1e-3) -> SymmetrizeResult:
    """Symmetrize `atoms` to the space group found within `tolerance` (Å)."""
    if not tolerance > 0:
        raise ValueError(f"the tolerance must be positive, not {tolerance}")
    if len(atoms) == 0:
        raise ValueError("cannot symmetrize a structure without atoms")
    if atoms.cell.rank < 3:
        raise ValueError(
            "symmetrization needs three cell vectors: put a molecule in a box"
        )
    check_2d(atoms)
    from ase.spacegroup.symmetrize import (  # imports SciPy
        IntermediateDatasetError,
        get_symmetrized_atoms,
    )

    strict = min(1e-4, tolerance / 10)
    before = spacegroup(atoms, strict)
    try:
        symmetric, _ = get_symmetrized_atoms(
            atoms, symprec=tolerance, final_symprec=strict
        )
    except (IntermediateDatasetError, AssertionError):
        raise ValueError(
            f"the structure could not be symmetrized consistently with tolerance "
            f"{tolerance} Å: try a smaller or larger tolerance"
        ) from None
    after = spacegroup(symmetric, strict)
    moved, _ = find_mic(
        symmetric.positions - atoms.positions, atoms.cell, pbc=atoms.pbc
    )
    return SymmetrizeResult(
        atoms=symmetric,
        spacegroup_before=before[0],
        spgnum_before=before[1],
        spacegroup_after=after[0],
        spgnum_after=after[1],
        strict_tolerance=strict,
        max_displacement=float(np.linalg.norm(moved, axis=1).max()),
        max_cell_change=float(np.abs(symmetric.cell.array - atoms.cell.array).max()),
    )
