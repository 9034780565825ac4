"""Structure information: formula, crystal type, space group and cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import dimensionality


@dataclass
class StructureInfoResult(Result):
    title = "Structure"
    formula: str = field(metadata=key("Chemical formula", database=True))
    stoichiometry: str = field(metadata=key("Stoichiometry, e.g. AB2", database=True))
    crystal_type: str = field(
        metadata=key("Stoichiometry-space group-Wyckoff letters", database=True)
    )
    spacegroup: str = field(
        metadata=key(
            "Space group symbol", database=True, label="Space group", priority=10
        )
    )
    spgnum: int = field(metadata=key("Space group number", database=True))
    pointgroup: str = field(metadata=key("Point group", database=True))
    wyckoff: list = field(metadata=key("Wyckoff letter of each atom"))
    cell_lengths: np.ndarray = field(metadata=key("Cell lengths a, b, c", "Å"))
    cell_angles: np.ndarray = field(metadata=key("Cell angles α, β, γ", "°"))
    dimensionality: int = field(
        metadata=key("Number of periodic directions", database=True)
    )
    natoms: int = field(metadata=key("Number of atoms", database=True))
    volume: float = field(metadata=key("Cell volume (area for 2D)", "Å³"))


def stoichiometry(atoms: Atoms) -> str:
    """AB2 for MoS2: elements by increasing count, reduced."""
    counts = np.bincount(atoms.numbers)
    counts = counts[counts > 0]
    reduced = counts // np.gcd.reduce(counts)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(
        letters[i] + (str(n) if n > 1 else "") for i, n in enumerate(sorted(reduced))
    )


def spglib_cell(atoms: Atoms):
    return (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)


@instruction("asr.structureinfo", version=0)
def main(atoms: Atoms, symprec: Annotated[float, "Å"] = 1e-3) -> StructureInfoResult:
    """Formula, crystal type, space group, cell and dimensionality."""
    import spglib  # imported when used: keeps `asr list` quick

    dataset = spglib.get_symmetry_dataset(spglib_cell(atoms), symprec=symprec)
    if dataset is None:
        raise ValueError("spglib could not find the symmetry of this structure")
    wyckoffs = list(dataset.wyckoffs)
    unique_letters = "".join(sorted(set(wyckoffs)))
    stoich = stoichiometry(atoms)
    cellpar = atoms.cell.cellpar()
    dim = dimensionality(atoms)
    volume = (
        abs(np.linalg.det(atoms.cell.array))
        if dim == 3
        else float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))
    )
    return StructureInfoResult(
        formula=atoms.get_chemical_formula(mode="metal"),
        stoichiometry=stoich,
        crystal_type=f"{stoich}-{dataset.number}-{unique_letters}",
        spacegroup=dataset.international,
        spgnum=int(dataset.number),
        pointgroup=dataset.pointgroup,
        wyckoff=wyckoffs,
        cell_lengths=np.asarray(cellpar[:3]),
        cell_angles=np.asarray(cellpar[3:]),
        dimensionality=dim,
        natoms=len(atoms),
        volume=float(volume),
    )
