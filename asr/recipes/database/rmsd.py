"""RMSD between two structures after matching their cells and atoms.

Both structures are reduced to spglib's standardised primitive cells (without
idealising: the positions stay as they are) and turned to one orientation
(``a`` along x, ``b`` in the xy plane). A noisy supercell, whose primitive
cell spglib finds only with a looser tolerance (up to eight times), is
compared with the other primitive cell repeated to its cell (noise within
`symprec` of a structure that spglib does reduce is averaged away). For every
choice of origin on an atom of the rarest element, the atoms of each element
are matched by the assignment with the smallest total squared distance. The
RMSD in Å runs over the atoms of the (primitive) cell and their images in the
26 neighbouring cells, each structure in its own cell, after the best common
translation:

    RMSD^2 = mean_i |d_i - mean_j d_j|^2 + 2/3 |C2 - C1|^2

with ``d_i = r2_i - r1_i`` and ``|C2 - C1|`` the Frobenius norm of the
difference of the cells, so differing lattice constants count too.
Non-periodic axes are boxed with 10 Å of vacuum first (a 2D material keeps z
as its vacuum axis); molecules (no periodic axis) are compared with ASE's
`ase.geometry.distance` after aligning their axes of inertia. The RMSD is
None when the structures have different compositions or cannot be matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.geometry import cell_to_cellpar, cellpar_to_cell
from ase.geometry.distance import distance

from asr.core import Result, instruction, key
from asr.recipes.common import check_2d

VACUUM = 10.0  # Å of vacuum given to the non-periodic axes before comparing


@dataclass
class RmsdResult(Result):
    title = "Structure comparison"
    rmsd: float | None = field(
        metadata=key(
            "Root mean square distance between matched atoms (None: not comparable)",
            "Å",
        )
    )
    same_composition: bool = field(metadata=key("Same reduced chemical formula"))
    natoms: tuple = field(metadata=key("Number of atoms of the two structures"))


@dataclass
class Prepared:
    """A structure made ready for comparison (see `prepare`)."""

    formula: str
    natoms: int
    symprec: float
    molecule: Atoms | None = None
    box: Atoms | None = None
    primitives: dict = field(default_factory=dict)

    def primitive(self, symprec: float) -> tuple[tuple, np.ndarray]:
        """The primitive cell at `symprec`, as a frame, and its lattice."""
        import spglib  # imported when used: keeps `asr list` quick

        if symprec not in self.primitives:
            box = self.box
            cell = (box.cell.array, box.get_scaled_positions(), box.numbers)
            found = spglib.standardize_cell(
                cell, to_primitive=True, no_idealize=True, symprec=symprec
            )
            lattice, scaled, numbers = found if found is not None else cell
            lattice = np.asarray(lattice)
            self.primitives[symprec] = (frame(numbers, scaled, lattice), lattice)
        return self.primitives[symprec]

    def full(self) -> tuple:
        """The whole (boxed) structure as a frame."""
        box = self.box
        return frame(box.numbers, box.get_scaled_positions(), box.cell.array)


def frame(numbers, scaled, lattice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers, wrapped scaled positions and the cell turned to one orientation."""
    canonical = cellpar_to_cell(cell_to_cellpar(np.asarray(lattice)))
    return np.asarray(numbers), np.asarray(scaled) % 1.0, canonical


def vacuum_directions(atoms: Atoms) -> list[np.ndarray]:
    """Unit vectors for the non-periodic axes, orthogonal to the periodic ones."""
    cell = atoms.cell.array
    periodic = np.flatnonzero(atoms.pbc)
    if len(periodic) == 2:
        normal = np.cross(cell[periodic[0]], cell[periodic[1]])
        return [normal / np.linalg.norm(normal)]
    axis = cell[periodic[0]] / np.linalg.norm(cell[periodic[0]])
    # Across a wire: the direction of largest spread, then the one left over.
    centred = atoms.positions - atoms.positions.mean(axis=0)
    across = centred - np.outer(centred @ axis, axis)
    _, values, vt = np.linalg.svd(across)
    first = (
        vt[0] if len(values) and values[0] > 1e-6 else np.eye(3)[np.argmin(abs(axis))]
    )
    first = first - (first @ axis) * axis
    first /= np.linalg.norm(first)
    return [first, np.cross(axis, first)]


def boxed(atoms: Atoms) -> Atoms:
    """A copy, periodic along all axes, with vacuum boxes along the others."""
    atoms = atoms.copy()
    cell = atoms.cell.array.copy()
    non_periodic = np.flatnonzero(~atoms.pbc)
    for i, direction in zip(non_periodic, vacuum_directions(atoms), strict=True):
        extent = np.ptp(atoms.positions @ direction)
        cell[i] = direction * (extent + VACUUM)
    if np.linalg.det(cell) < 0:
        cell[non_periodic[0]] *= -1
    atoms.set_cell(cell, scale_atoms=False)
    scaled = atoms.get_scaled_positions(wrap=False)
    for i in non_periodic:
        scaled[:, i] += 0.5 - (scaled[:, i].min() + scaled[:, i].max()) / 2
    atoms.set_scaled_positions(scaled)
    atoms.pbc = True
    return atoms


def prepare(atoms: Atoms, symprec: float = 0.1) -> Prepared:
    """`atoms` made ready for `compare` (prepare each structure once)."""
    if len(atoms) == 0:
        raise ValueError("cannot compare a structure without atoms")
    check_2d(atoms)
    formula = atoms.symbols.formula.reduce()[0].format("hill")
    if not atoms.pbc.any():
        return Prepared(formula, len(atoms), symprec, molecule=atoms.copy())
    if atoms.cell.rank < 3 and atoms.pbc.all():
        raise ValueError("a periodic structure needs three cell vectors")
    box = boxed(atoms) if not atoms.pbc.all() else atoms.copy()
    return Prepared(formula, len(atoms), symprec, box=box)


def _wrapped(delta: np.ndarray) -> np.ndarray:
    return delta - np.round(delta)


def matched_frames(first: Prepared, second: Prepared) -> tuple | None:
    """Frames of the two structures with the same cell, or None.

    Usually both primitive cells. When they differ in size, the larger
    structure is a supercell whose primitive cell spglib found only with a
    looser tolerance (noise): the smaller primitive cell is then repeated to
    the larger structure's cell, so the noise is measured, not averaged away.
    """
    frame1, _ = first.primitive(first.symprec)
    frame2, _ = second.primitive(second.symprec)
    if len(frame1[0]) == len(frame2[0]):
        return frame1, frame2
    swap = len(frame1[0]) < len(frame2[0])
    big, small = (second, first) if swap else (first, second)
    small_frame = frame1 if swap else frame2
    tolerance = big.symprec
    while True:
        tolerance *= 2
        if tolerance > 8 * big.symprec:
            return None
        big_frame, lattice = big.primitive(tolerance)
        if len(big_frame[0]) <= len(small_frame[0]):
            break
    if len(big_frame[0]) != len(small_frame[0]):
        return None
    repeat = big.box.cell.array @ np.linalg.inv(lattice)
    rounded = np.round(repeat)
    if np.abs(repeat - rounded).max() > 0.05 or np.linalg.det(rounded) < 0.5:
        return None
    numbers, scaled, cell = small_frame
    primitive = Atoms(numbers, scaled_positions=scaled, cell=cell, pbc=True)
    from ase.build import make_supercell  # ase.build imports SciPy

    repeated = make_supercell(primitive, rounded.astype(int))
    expanded = frame(
        repeated.numbers, repeated.get_scaled_positions(), repeated.cell.array
    )
    return (expanded, big.full()) if swap else (big.full(), expanded)


def compare(first: Prepared, second: Prepared) -> float | None:
    """RMSD (Å) of two prepared structures, or None if they do not match."""
    from scipy.optimize import linear_sum_assignment

    if first.formula != second.formula:
        return None
    if first.molecule is not None or second.molecule is not None:
        if first.molecule is None or second.molecule is None:
            return None
        if len(first.molecule) != len(second.molecule):
            return None
        dist = distance(first.molecule, second.molecule, permute=True)
        return float(dist / np.sqrt(len(first.molecule)))
    matched = matched_frames(first, second)
    if matched is None:
        return None
    (numbers1, scaled1, cell1), (numbers2, scaled2, cell2) = matched
    elements, counts = np.unique(numbers1, return_counts=True)
    rarest = elements[np.argmin(counts)]
    anchor = np.flatnonzero(numbers1 == rarest)[0]
    mean_cell = (cell1 + cell2) / 2
    # Images in the 26 neighbouring cells add (2/3) |cell2 - cell1|^2:
    cell_term = 2 / 3 * np.sum((cell2 - cell1) ** 2)
    best = np.inf
    for partner in np.flatnonzero(numbers2 == rarest):
        shifted = scaled2 - scaled2[partner] + scaled1[anchor]
        differences = np.zeros((len(numbers1), 3))
        for element in elements:
            mine = np.flatnonzero(numbers1 == element)
            theirs = np.flatnonzero(numbers2 == element)
            delta = _wrapped(shifted[theirs][None, :, :] - scaled1[mine][:, None])
            cost = np.sum((delta @ mean_cell) ** 2, axis=2)
            rows, columns = linear_sum_assignment(cost)
            s1 = scaled1[mine[rows]]
            s2 = s1 + delta[rows, columns]
            differences[mine[rows]] = s2 @ cell2 - s1 @ cell1
        differences -= differences.mean(axis=0)
        square = np.mean(np.sum(differences**2, axis=1)) + cell_term
        best = min(best, float(np.sqrt(square)))
    return best


@instruction("asr.database.rmsd", version=0)
def main(atoms: Atoms, other: Atoms, symprec: float = 0.1) -> RmsdResult:
    """RMSD (Å) between `atoms` and `other` after matching cells and atoms."""
    if not symprec > 0:
        raise ValueError(f"symprec must be positive, not {symprec}")
    if tuple(atoms.pbc) != tuple(other.pbc):
        raise ValueError(
            f"the structures have different periodicity: {atoms.pbc} and {other.pbc}"
        )
    first, second = prepare(atoms, symprec), prepare(other, symprec)
    return RmsdResult(
        rmsd=compare(first, second),
        same_composition=first.formula == second.formula,
        natoms=(first.natoms, second.natoms),
    )
