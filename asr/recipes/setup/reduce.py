"""Reduce a supercell to its primitive cell.

spglib finds the lattice translations of the structure (initial magnetic
moments count: an antiferromagnetic supercell stays as large as its magnetic
order needs). Only translations along the periodic directions are used, so a
2D material keeps its cell vector and vacuum along z, a 1D wire its periodic
axis, and the atoms keep their positions (no rotation, no idealisation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key
from asr.recipes.common import check_2d


@dataclass
class ReduceResult(Result):
    title = "Primitive cell"
    atoms: Atoms = field(metadata=key("Primitive structure"))
    natoms_before: int = field(metadata=key("Number of atoms of the input"))
    natoms_after: int = field(metadata=key("Number of atoms of the primitive cell"))
    multiplicity: int = field(metadata=key("How many primitive cells the input holds"))


def magnetic_types(atoms: Atoms) -> np.ndarray:
    """One integer per (element, initial magnetic moment) combination."""
    moments = np.round(atoms.get_initial_magnetic_moments(), 3)
    pairs = list(zip(atoms.numbers.tolist(), moments.tolist(), strict=True))
    kinds = {pair: i + 1 for i, pair in enumerate(sorted(set(pairs)))}
    return np.array([kinds[pair] for pair in pairs])


def primitive_lattice(atoms: Atoms, symprec: float) -> np.ndarray:
    """Three vectors spanning the translations of `atoms` (original frame)."""
    import spglib  # imported when used: keeps `asr list` quick

    cell = (atoms.cell.array, atoms.get_scaled_positions(), magnetic_types(atoms))
    found = spglib.standardize_cell(
        cell, to_primitive=True, no_idealize=True, symprec=symprec
    )
    if found is None:
        raise ValueError(f"spglib found no primitive cell with symprec={symprec}")
    return np.asarray(found[0], dtype=float)


def periodic_basis(atoms: Atoms, lattice: np.ndarray, tol: float) -> np.ndarray:
    """A reduced basis of the translations lying along the periodic axes."""
    periodic = np.flatnonzero(atoms.pbc)
    inverse = np.linalg.inv(atoms.cell.array)

    def along_periodic_axes(vector: np.ndarray) -> bool:
        fractional = vector @ inverse
        return bool(np.all(np.abs(np.delete(fractional, periodic)) < tol))

    # spglib's own vectors, when enough of them lie along the periodic axes:
    own = [v for v in lattice if along_periodic_axes(v)]
    if len(own) == len(periodic):
        return np.array(own)
    candidates = []
    for n in itertools.product(range(-4, 5), repeat=3):
        vector = np.dot(n, lattice)
        if np.linalg.norm(vector) > tol and along_periodic_axes(vector):
            candidates.append(vector)
    candidates.sort(key=lambda v: (round(float(np.linalg.norm(v)), 8), tuple(-v)))
    basis: list[np.ndarray] = []
    for vector in candidates:
        trial = np.array([*basis, vector])
        if np.linalg.matrix_rank(trial, tol=tol) == len(trial):
            basis.append(vector)
        if len(basis) == len(periodic):
            break
    if len(basis) < len(periodic):
        raise ValueError("could not find a primitive basis along the periodic axes")
    return np.array(basis)


def reduced_cell(atoms: Atoms, symprec: float) -> np.ndarray:
    """The primitive cell, with the non-periodic cell vectors unchanged."""
    lattice = primitive_lattice(atoms, symprec)
    basis = periodic_basis(atoms, lattice, 1e-6)
    cell = atoms.cell.array.copy()
    periodic = np.flatnonzero(atoms.pbc)
    cell[periodic] = basis
    if np.linalg.det(cell) < 0:
        cell[periodic[0]] *= -1
    if not np.isclose(np.linalg.det(cell), abs(np.linalg.det(lattice)), rtol=1e-6):
        raise ValueError(
            "the translations found by spglib do not fit the periodic axes: "
            "is there enough vacuum along the non-periodic ones?"
        )
    return cell


def unique_atoms(atoms: Atoms, tol: float) -> list[int]:
    """Indices of atoms that are not a periodic image of an earlier atom."""
    keep: list[int] = []
    scaled = atoms.get_scaled_positions(wrap=False)
    for i in range(len(atoms)):
        is_image = False
        for j in keep:
            if atoms.numbers[i] != atoms.numbers[j]:
                continue
            delta = scaled[i] - scaled[j]
            delta[atoms.pbc] -= np.round(delta[atoms.pbc])
            if np.linalg.norm(delta @ atoms.cell.array) < tol:
                is_image = True
                break
        if not is_image:
            keep.append(i)
    return keep


@instruction("asr.setup.reduce", version=0)
def main(atoms: Atoms, symprec: float = 1e-4) -> ReduceResult:
    """Reduce `atoms` to its primitive cell, keeping the non-periodic axes."""
    if not symprec > 0:
        raise ValueError(f"symprec must be positive, not {symprec}")
    if len(atoms) == 0:
        raise ValueError("cannot reduce a structure without atoms")
    check_2d(atoms)
    if atoms.cell.rank < 3:
        raise ValueError("reduce needs three cell vectors (vacuum included)")
    if not atoms.pbc.any():
        raise ValueError("a molecule (no periodic axis) has no primitive cell")
    cell = reduced_cell(atoms, symprec)
    ratio = abs(np.linalg.det(atoms.cell.array) / np.linalg.det(cell))
    multiplicity = int(round(ratio))
    if abs(ratio - multiplicity) > 1e-4 or len(atoms) % multiplicity:
        raise ValueError(
            f"the primitive cell is {ratio:.4f} times smaller than the input: "
            "not a whole number, check symprec"
        )
    primitive = atoms.copy()
    primitive.set_cell(cell, scale_atoms=False)
    primitive.wrap(pbc=atoms.pbc)
    primitive = primitive[unique_atoms(primitive, tol=2 * symprec + 1e-8)]
    if len(primitive) * multiplicity != len(atoms):
        raise ValueError(
            f"found {len(primitive)} atoms in a primitive cell that is "
            f"{multiplicity} times smaller than {len(atoms)} atoms: check symprec"
        )
    return ReduceResult(
        atoms=primitive,
        natoms_before=len(atoms),
        natoms_after=len(primitive),
        multiplicity=multiplicity,
    )
