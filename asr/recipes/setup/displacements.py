"""Displaced structures for finite differences: each atom moved along ±x, ±y, ±z.

Structure ``k`` moves atom ``k // 6`` by ``±delta`` along axis ``(k // 2) % 3``
(``+`` first); its label reads like ``"3x-"`` (atom 3, along -x). Forces of
these structures give force constants, phonons and Born charges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key


@dataclass
class DisplacementsResult(Result):
    title = "Displacements"
    structures: list = field(metadata=key("Displaced structures"))
    labels: list = field(metadata=key("Label of each structure, e.g. 0x+"))
    indices: np.ndarray = field(metadata=key("Index of the displaced atom"))
    axes: np.ndarray = field(metadata=key("Cartesian axis of the displacement (0-2)"))
    signs: np.ndarray = field(metadata=key("Sign of the displacement (+1 or -1)"))
    delta: float = field(metadata=key("Size of the displacement", "Å"))


@instruction("asr.setup.displacements", version=0)
def main(atoms: Atoms, delta: float = 0.01) -> DisplacementsResult:
    """Displace every atom by ±`delta` (Å) along x, y and z, one at a time."""
    if not delta > 0:
        raise ValueError(f"the displacement delta must be positive, not {delta}")
    if len(atoms) == 0:
        raise ValueError("cannot displace atoms of a structure without atoms")
    structures, labels, indices, axes, signs = [], [], [], [], []
    for index in range(len(atoms)):
        for axis in range(3):
            for sign in (1, -1):
                displaced = atoms.copy()
                displaced.positions[index, axis] += sign * delta
                structures.append(displaced)
                labels.append(f"{index}{'xyz'[axis]}{'+' if sign > 0 else '-'}")
                indices.append(index)
                axes.append(axis)
                signs.append(sign)
    return DisplacementsResult(
        structures=structures,
        labels=labels,
        indices=np.array(indices),
        axes=np.array(axes),
        signs=np.array(signs),
        delta=float(delta),
    )
