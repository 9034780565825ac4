"""Nearest-neighbour exchange coupling from ferro- and antiferromagnetic energies.

The structure must hold exactly two magnetic atoms of one element
(`asr.setup.magnetize` says which atoms are magnetic). Their moments are set
parallel and antiparallel (`asr.setup.magnetize` with "fm" and "afm") and the
ground state of each is computed (`asr.gs`). With the classical Heisenberg
model

    E = E₀ - ½ Σ_{i≠j} J S_i · S_j   (J > 0: ferromagnetic)

restricted to nearest magnetic neighbours, the energy difference per cell is
E_afm - E_fm = J S² n, where n counts, over the magnetic atoms of the cell,
their nearest magnetic neighbours with the opposite moment in the
antiferromagnetic state, and S = m/2 is the spin of one atom from its moment
m (μB) in the ferromagnetic state. So J = (E_afm - E_fm) / (n S²).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .gs import main as groundstate
from .setup.magnetize import magnetic_atoms
from .setup.magnetize import main as magnetize

# Moments (μB) below this count as zero: a collapsed magnetic state.
MOMENT_THRESHOLD = 0.1
# Neighbours up to this factor times the nearest distance count as nearest.
NEIGHBOUR_TOLERANCE = 1.05


@dataclass
class ExchangeResult(Result):
    title = "Exchange coupling"
    J: float = field(
        metadata=key(
            "Nearest-neighbour exchange coupling J (Heisenberg, -½ Σ J S_i·S_j; "
            "J > 0: ferromagnetic)",
            "meV",
            database=True,
        )
    )
    spin: float = field(
        metadata=key(
            "Spin S of a magnetic atom (half its moment in fm)", "ħ", database=True
        )
    )
    N_nn: int = field(
        metadata=key(
            "Number of nearest magnetic neighbours of a magnetic atom", database=True
        )
    )
    antiparallel_bonds: int = field(
        metadata=key(
            "Nearest-neighbour bonds from the cell's magnetic atoms that are "
            "antiparallel in the afm state"
        )
    )
    energy_fm: float = field(metadata=key("Energy of the ferromagnetic state", "eV"))
    energy_afm: float = field(
        metadata=key("Energy of the antiferromagnetic state", "eV")
    )
    dE_afm_fm: float = field(
        metadata=key(
            "Energy of the afm state above the fm state, per magnetic atom",
            "meV",
            database=True,
        )
    )
    magmoms_fm: np.ndarray = field(metadata=key("Moments in the fm state", "μB"))
    magmoms_afm: np.ndarray = field(metadata=key("Moments in the afm state", "μB"))
    magnetic_ground_state: str = field(
        metadata=key("The lower of the two states: 'fm' or 'afm'", database=True)
    )


def nearest_magnetic_neighbours(
    atoms: Atoms, magnetic: list[int]
) -> dict[int, list[int]]:
    """For each magnetic atom, its nearest magnetic neighbours (images included).

    Neighbours are listed by atom index, once per periodic image.
    """
    from ase.neighborlist import neighbor_list

    cutoff = 3.0
    while True:
        i, j, d = neighbor_list("ijd", atoms, cutoff)
        pairs = np.isin(i, magnetic) & np.isin(j, magnetic) & (d > 1e-6)
        if pairs.any():
            break
        if cutoff > 50:
            raise ValueError("the magnetic atoms are more than 50 Å apart")
        cutoff *= 1.5
    nearest = d[pairs].min() * NEIGHBOUR_TOLERANCE
    found = {a: [] for a in magnetic}
    for a, b, distance in zip(i[pairs], j[pairs], d[pairs], strict=True):
        if distance <= nearest:
            found[int(a)].append(int(b))
    return found


def check_state(name: str, magmoms: np.ndarray, expected: np.ndarray) -> None:
    """The computed moments keep the signs of the initial ones, and are not zero."""
    if np.any(np.abs(magmoms) < MOMENT_THRESHOLD) or np.any(
        np.sign(magmoms) != np.sign(expected)
    ):
        raise ValueError(
            f"the {name} state did not survive the ground-state calculation "
            f"(moments {np.round(magmoms, 2).tolist()} μB): no exchange coupling "
            "can be read from it"
        )


@instruction("asr.exchange", version=0, packages=("gpaw",))
def main(
    atoms: Atoms, calculator: dict = DEFAULT_GPAW, moment: float = 3.0
) -> ExchangeResult:
    """Exchange coupling J from the fm and afm states; `moment` starts them (μB)."""
    magnetic = magnetic_atoms(atoms)
    # Both starting states first: a cell unfit for afm fails before any GPAW.
    starts = {s: magnetize(atoms, state=s, moment=moment).result for s in ("fm", "afm")}
    states = {}
    for state, start in starts.items():
        gs = groundstate(start.atoms, calculator).result
        magmoms = np.asarray(gs.magmoms)[magnetic]
        check_state(state, magmoms, start.magmoms[magnetic])
        states[state] = (gs, start.magmoms)
    gs_fm, _ = states["fm"]
    gs_afm, signs = states["afm"]

    neighbours = nearest_magnetic_neighbours(atoms, magnetic)
    antiparallel = sum(
        int(signs[a] * signs[b] < 0) for a, bs in neighbours.items() for b in bs
    )
    if antiparallel == 0:
        raise ValueError(
            "no nearest magnetic neighbours are antiparallel in the afm state of "
            "this cell: it says nothing about the nearest-neighbour coupling"
        )
    spin = float(np.mean(np.abs(np.asarray(gs_fm.magmoms)[magnetic]))) / 2
    difference = gs_afm.energy - gs_fm.energy
    coupling = difference / (antiparallel * spin**2)
    return ExchangeResult(
        J=1000 * coupling,
        spin=spin,
        N_nn=len(neighbours[magnetic[0]]),
        antiparallel_bonds=antiparallel,
        energy_fm=float(gs_fm.energy),
        energy_afm=float(gs_afm.energy),
        dE_afm_fm=1000 * difference / len(magnetic),
        magmoms_fm=np.asarray(gs_fm.magmoms, dtype=float),
        magmoms_afm=np.asarray(gs_afm.magmoms, dtype=float),
        magnetic_ground_state="fm" if difference > 0 else "afm",
    )
