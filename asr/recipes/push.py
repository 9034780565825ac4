"""Push a structure along its most unstable phonon mode.

The phonons come from `asr.phonopy` (called as an instruction, so it is a
recorded dependency). Among the q-points the phonon supercell samples
exactly, the mode with the lowest energy is chosen (the three acoustic
modes at Γ, which only translate the crystal, are left out). The atoms are
displaced along it (phonopy's modulation) in the smallest supercell that
fits the q-point, so that the atom moving most moves by `amplitude` Å. Relax
the pushed structure (`asr.relax`) to find the stable structure nearby.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW_FORCES
from .phonopy import main as phonopy
from .phonopy import make_phonopy, to_ase, unit_cell_index

# Acoustic modes at Γ: rigid translations, no use to push along.
ACOUSTIC = 3


@dataclass
class PushResult(Result):
    title = "Push along a phonon mode"
    atoms: Atoms = field(metadata=key("The pushed structure (a supercell)"))
    qpoint: np.ndarray = field(metadata=key("q-point of the mode (scaled)"))
    band: int = field(metadata=key("Band index of the mode at the q-point"))
    mode_energy: float = field(
        metadata=key(
            "Energy of the mode (negative: imaginary, unstable)", "meV", database=True
        )
    )
    unstable: bool = field(
        metadata=key("Whether the mode is unstable (negative energy)", database=True)
    )
    repetition: list = field(metadata=key("Repetitions of the cell in the pushed one"))
    displacements: np.ndarray = field(metadata=key("Displacement of each atom", "Å"))


def repetition_for(qpoint: np.ndarray, pbc) -> list[int]:
    """The smallest repetitions of the cell in which the q-point fits."""
    return [
        Fraction(float(q)).limit_denominator(100).denominator if periodic else 1
        for q, periodic in zip(qpoint, pbc)
    ]


def softest_mode(qpoints: np.ndarray, energies: np.ndarray) -> tuple[int, int]:
    """(q-point index, band index) of the lowest mode, Γ acoustic modes left out."""
    energies = np.array(energies, dtype=float)
    for i, q in enumerate(qpoints):
        if np.allclose(q, 0):
            energies[i, :ACOUSTIC] = np.inf
    i, band = np.unravel_index(np.argmin(energies), energies.shape)
    return int(i), int(band)


@instruction("asr.push", version=1)
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    amplitude: float = 0.1,
    supercell: tuple | None = None,
    supercell_length: float = 10.0,
    displacement: float = 0.01,
) -> PushResult:
    """Displace the atoms by up to `amplitude` Å along the softest phonon.

    `calculator`, `supercell`, `supercell_length` and `displacement` are
    passed to `asr.phonopy`.
    """
    phonons = phonopy(
        atoms,
        calculator=calculator,
        supercell=supercell,
        supercell_length=supercell_length,
        displacement=displacement,
    ).result
    qpoints = phonons.commensurate_qpoints
    i, band = softest_mode(qpoints, phonons.commensurate_energies)
    qpoint = np.asarray(qpoints[i], dtype=float)
    energy = float(phonons.commensurate_energies[i, band])

    phonon = make_phonopy(atoms, phonons.supercell)
    phonon.force_constants = phonons.force_constants
    repetition = repetition_for(qpoint, atoms.pbc)
    modulation = phonon.run_modulations(repetition, [[qpoint, band, 1.0, 0.0]])
    displacements = modulation.modulations[0].real
    largest = np.linalg.norm(displacements, axis=1).max()
    displacements *= amplitude / largest

    cell = modulation.supercell
    pushed = to_ase(cell, atoms, unit_cell_index(cell))
    pushed.positions += displacements
    return PushResult(
        atoms=pushed,
        qpoint=qpoint,
        band=band,
        mode_energy=energy,
        unstable=energy < 0,
        repetition=repetition,
        displacements=displacements,
    )
