"""Set initial magnetic moments: non-magnetic, ferromagnetic or antiferromagnetic.

The magnetic atoms are those of d- and f-block elements; a structure without
any gets its moments on every atom. ``"nm"`` sets all moments to zero,
``"fm"`` puts `moment` (μB) on every magnetic atom and ``"afm"`` puts
``+moment`` and ``-moment`` on the two magnetic atoms of a cell that has
exactly two, of the same element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

STATES = ("nm", "fm", "afm")

# Atomic numbers of the d-block (Sc-Zn, Y-Cd, Lu-Hg) and f-block elements.
MAGNETIC_NUMBERS = frozenset(
    [*range(21, 31), *range(39, 49), *range(57, 81), *range(89, 113)]
)


@dataclass
class MagnetizeResult(Result):
    title = "Initial magnetic moments"
    atoms: Atoms = field(metadata=key("Structure with initial magnetic moments"))
    state: str = field(metadata=key("Magnetic state: nm, fm or afm"))
    magmoms: np.ndarray = field(metadata=key("Initial magnetic moment per atom", "μB"))
    total_magmom: float = field(metadata=key("Sum of the initial moments", "μB"))


def magnetic_atoms(atoms: Atoms) -> list[int]:
    """Indices of the d- and f-block atoms (all atoms if there are none)."""
    found = [i for i, z in enumerate(atoms.numbers) if z in MAGNETIC_NUMBERS]
    return found or list(range(len(atoms)))


def moments_for(atoms: Atoms, state: str, moment: float) -> np.ndarray:
    magmoms = np.zeros(len(atoms))
    if state == "nm":
        return magmoms
    magnetic = magnetic_atoms(atoms)
    if state == "fm":
        magmoms[magnetic] = moment
        return magmoms
    symbols = sorted({atoms[i].symbol for i in magnetic})
    if len(magnetic) != 2 or len(symbols) != 1:
        raise ValueError(
            f"an antiferromagnetic state needs exactly two magnetic atoms of one "
            f"element, but {atoms.get_chemical_formula()} has {len(magnetic)} "
            f"({', '.join(symbols)}): use a supercell with two of them"
        )
    magmoms[magnetic] = [moment, -moment]
    return magmoms


@instruction("asr.setup.magnetize", version=0)
def main(atoms: Atoms, state: str = "fm", moment: float = 1.0) -> MagnetizeResult:
    """Set initial magnetic moments of `atoms` for the magnetic `state`."""
    if state not in STATES:
        raise ValueError(f"unknown magnetic state {state!r}: choose one of {STATES}")
    if state != "nm" and not moment > 0:
        raise ValueError(f"the initial moment must be positive, not {moment}")
    if len(atoms) == 0:
        raise ValueError("cannot magnetize a structure without atoms")
    magmoms = moments_for(atoms, state, float(moment))
    magnetized = atoms.copy()
    magnetized.set_initial_magnetic_moments(magmoms)
    return MagnetizeResult(
        atoms=magnetized,
        state=state,
        magmoms=magmoms,
        total_magmom=float(magmoms.sum()),
    )
