"""Formal polarization from Berry phases (`gpaw.berryphase.polarization_phase`).

The polarization phase φ_c = 2πV P·b_c along each cell vector a_c (b_c: the
reciprocal vectors, a_c·b_d = δ_cd) is, in a periodic direction, the
electronic Berry phase (product of overlaps of the occupied Bloch states
along the k-point strings of a grid without symmetry, from
`asr.wavefunctions`) plus the ionic phase 2π Σ_a Z_a s_ac; in a
non-periodic direction it is the phase of the dipole moment. The
polarization is P = Σ_c φ_c a_c / (2πV) (e/Å², times the cell height for a
2D material: e/Å). A formal polarization is defined only modulo a
polarization quantum e R / V (R a lattice vector): only differences between
nearby structures are physical (Born charges, piezoelectric tensor), so the
phases are kept for them. Metals have none.

As in the C2DB protocol the ground state is converged tightly (`convergence`,
GPAW's density and eigenstates tolerances, merged into the calculator's:
the tighter wins): the phase differences of Born charges and piezoelectric
tensors are small, and a loose SCF puts its noise into them.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .gs import main as groundstate
from .wavefunctions import main as wavefunctions

METAL = "a metal has no polarization: the Berry phases need a band gap"
# The Berry phases need enough k-points along every periodic direction.
POLARIZATION_KPTS = {"density": 12.0, "gamma": False}
# The C2DB protocol's SCF tolerances for Berry phases (GPAW's units: density
# change per electron; eigenstates in eV² per electron).
TIGHT_CONVERGENCE = {"density": 1e-7, "eigenstates": 1e-11}


def tightened(calculator: dict, convergence: dict) -> dict:
    """`calculator` with each tolerance of `convergence` unless it has a tighter."""
    merged = dict(calculator.get("convergence") or {})
    for name, tolerance in convergence.items():
        merged[name] = min(merged.get(name, tolerance), tolerance)
    return {**calculator, "convergence": merged}


@dataclass
class FormalPolarizationResult(Result):
    title = "Formal polarization"
    phase_c: np.ndarray = field(
        metadata=key(
            "Polarization phase along each cell vector (electronic + ionic, or "
            "dipole in non-periodic directions)",
            "rad",
        )
    )
    electronic_phase_c: np.ndarray = field(
        metadata=key("Electronic Berry phase along each cell vector", "rad")
    )
    atomic_phase_c: np.ndarray = field(
        metadata=key("Ionic phase along each cell vector", "rad")
    )
    dipole_phase_c: np.ndarray = field(
        metadata=key("Phase of the dipole moment along each cell vector", "rad")
    )
    polarization: np.ndarray = field(
        metadata=key(
            "Formal polarization vector (modulo a polarization quantum)",
            "e/Å² (bulk), e/Å (2D)",
        )
    )


def polarization_from_phases(phase_c: np.ndarray, atoms: Atoms) -> np.ndarray:
    """P = Σ_c φ_c a_c / (2πV), times the non-periodic length for 2D (and 1D)."""
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    polarization = np.asarray(phase_c) @ cell / (2 * np.pi * volume)
    return polarization * nonperiodic_measure(atoms)


def nonperiodic_measure(atoms: Atoms) -> float:
    """Length (2D), area (1D) or volume (0D) of the non-periodic directions."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.all():
        return 1.0
    cell = atoms.cell.array
    return float(abs(np.linalg.det(cell[~pbc][:, ~pbc])))


@instruction("asr.formalpolarization", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = POLARIZATION_KPTS,
    convergence: dict = TIGHT_CONVERGENCE,
) -> FormalPolarizationResult:
    """Berry-phase polarization of an insulator on a `kpts` grid without symmetry.

    The ground state and wave functions are converged to `convergence` or
    the calculator's own tolerances, whichever are tighter.
    """
    from gpaw.berryphase import ZeroBandgap, polarization_phase

    if dimensionality(atoms) == 0:
        raise ValueError(
            "a molecule has a dipole moment, not a polarization: use asr.gs"
        )
    calculator = tightened(calculator, convergence)
    if groundstate(atoms, calculator).result.gap == 0.0:
        raise ValueError(METAL)
    wfs = wavefunctions(atoms, calculator, kpts=kpts, nbands=-1, symmetry=False)
    try:
        with redirect_stdout(io.StringIO()):  # GPAW says what it computes
            phases = polarization_phase(gpw_wfs=wfs.result.gpw.path)
    except ZeroBandgap:
        raise ValueError(METAL) from None
    except (AssertionError, RuntimeError) as err:
        # GPAW asserts filled bands (an integer number per spin).
        raise ValueError(
            f"GPAW's Berry phases failed ({err!s:.200}): the occupied bands must "
            "be completely filled, as in an insulator"
        ) from None
    return FormalPolarizationResult(
        phase_c=np.asarray(phases["phase_c"], dtype=float),
        electronic_phase_c=np.asarray(phases["electronic_phase_c"], dtype=float),
        atomic_phase_c=np.asarray(phases["atomic_phase_c"], dtype=float),
        dipole_phase_c=np.asarray(phases["dipole_phase_c"], dtype=float),
        polarization=polarization_from_phases(phases["phase_c"], atoms),
    )
