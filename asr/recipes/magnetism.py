"""Where the spins start: the C2DB protocol for structures given without moments.

A structure without initial magnetic moments is started ferromagnetic (1 μB
on every atom), so a magnet is found as one; when the moments vanish (below
`MAGMOM_THRESHOLD` in total and on every atom) the material is non-magnetic
and its spin-paired calculation is the one kept. `magnetic` overrides this:
True keeps the spin-polarized calculation, False never polarizes the spins.

A structure that carries moments keeps them; moments that are all zero
(`atoms.set_initial_magnetic_moments(0)`, `asr.setup.magnetize` with "nm",
or a relaxation that found the material non-magnetic) say the material is
non-magnetic, so it is computed spin-paired at once: the ground state after a
relaxation does not probe again what the relaxation found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms

# Magnetic moments (in μB) below this count as zero.
MAGMOM_THRESHOLD = 0.1

# The starting moment (μB) of every atom of a structure given without moments.
FERROMAGNETIC_START = 1.0


def starting_moments(
    atoms: Atoms, magnetic: bool | None, spec: dict[str, Any]
) -> np.ndarray | None:
    """The initial moments of a calculation of `atoms` (None: spin-paired).

    Moments the atoms carry are kept (all zero: spin-paired, unless
    `magnetic` is True); only GPAW calculations are started ferromagnetic
    (other calculators know no spins).
    """
    if magnetic is False:
        return None
    given = atoms.get_initial_magnetic_moments()
    if np.abs(given).max(initial=0.0) > 0.0:
        return given
    if atoms.has("initial_magmoms") and magnetic is None:
        return None  # all zero: known to be non-magnetic
    if spec.get("name", "").lower() != "gpaw":
        return None
    return np.full(len(atoms), FERROMAGNETIC_START)


def moments_vanished(magmom: float, magmoms: np.ndarray | None) -> bool:
    """Whether the total and every local moment are below the threshold."""
    local = 0.0 if magmoms is None else float(np.abs(magmoms).max(initial=0.0))
    return abs(magmom) < MAGMOM_THRESHOLD and local < MAGMOM_THRESHOLD
