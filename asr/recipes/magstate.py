"""Magnetic state: non-magnetic, ferromagnetic or antiferromagnetic ground state.

Classifies the moments of the `asr.gs` ground state:

* ``"nm"`` when no atom carries a moment of `ATOMIC_THRESHOLD` (0.1 μB) or
  more (and always when the ground state is not spin-polarized);
* ``"afm"`` when some atom does, but the total moment of the cell is below
  `TOTAL_THRESHOLD` (0.1 μB): the local moments cancel;
* ``"fm"`` otherwise (ferrimagnets with a net moment count as ``"fm"``).

A structure without initial moments starts ferromagnetic in `asr.gs`, so a
ferromagnet is found as one; antiferromagnetic orders need their moments set
(``asr.setup.magnetize``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .gs import main as groundstate

# A local moment (μB) of at least this size makes an atom magnetic.
ATOMIC_THRESHOLD = 0.1
# A total moment (μB per cell) below this, with magnetic atoms, is "afm".
TOTAL_THRESHOLD = 0.1


@dataclass
class MagstateResult(Result):
    title = "Magnetic state"
    magstate: str = field(
        metadata=key(
            "Magnetic state: nm, fm or afm",
            database=True,
            label="Magnetic state",
            priority=30,
        )
    )
    is_magnetic: bool = field(
        metadata=key("Whether any atom carries a magnetic moment", database=True)
    )
    magmom: float = field(
        metadata=key(
            "Total magnetic moment of the cell",
            "μB",
            database=True,
            label="Magnetic moment",
            digits=2,
        )
    )
    magmoms: np.ndarray = field(metadata=key("Magnetic moment of each atom", "μB"))
    note: str = field(metadata=key("What the user should know about this result"))


def classify(magmom: float, magmoms: np.ndarray) -> str:
    """'nm', 'fm' or 'afm' from the total and the local moments (μB)."""
    largest = float(np.abs(np.asarray(magmoms, dtype=float)).max(initial=0.0))
    if largest < ATOMIC_THRESHOLD:
        return "nm"
    if abs(magmom) < TOTAL_THRESHOLD:
        return "afm"
    return "fm"


@instruction("asr.magstate", version=1, packages=("gpaw",))
def main(atoms: Atoms, calculator: dict = DEFAULT_GPAW) -> MagstateResult:
    """Classify the ground state of `atoms` as nm, fm or afm."""
    gs = groundstate(atoms, calculator).result
    magmoms = np.asarray(gs.magmoms, dtype=float)
    magstate = classify(gs.magmom, magmoms) if gs.spin_polarized else "nm"
    note = ""
    if not gs.spin_polarized:
        note = (
            "The ground state is not spin-polarized: the moments it started "
            "from vanished (or it was computed with magnetic=False); use "
            "asr.setup.magnetize to try other magnetic orders."
        )
    elif magstate == "nm":
        note = "The initial magnetic moments vanished in the ground state."
    return MagstateResult(
        magstate=magstate,
        is_magnetic=magstate != "nm",
        magmom=float(gs.magmom),
        magmoms=magmoms,
        note=note,
    )
