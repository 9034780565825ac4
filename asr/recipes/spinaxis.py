"""The spin direction of spin-orbit calculations: a magnet's easy axis.

Spin-orbit coupling is added to a collinear ground state with the spins
along one direction (θ, φ). For a magnet that direction is physical: with
the spins off the easy axis the SOC bands are those of a spin configuration
of higher energy (for an in-plane magnet, spins along z are one). Every
recipe that adds SOC takes (θ, φ) from `spin_axis`, which reads the
`asr.magnetic_anisotropy` Record; `asr.gs` (which that Record depends on)
finds the same axis from its own calculator with `easy_axis_of`.
Non-magnetic materials: z.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms

from .magnetism import MAGMOM_THRESHOLD

# Spin directions as GPAW's (θ, φ) in degrees.
AXES = {"x": (90.0, 0.0), "y": (90.0, 90.0), "z": (0.0, 0.0)}
# Energies (meV) closer than this to the lowest count as equally low: the
# numerical noise of sums of eigenvalues (~1e-11 relative) is ~1e-6 meV for
# a few atoms, physical anisotropies are above ~1e-4 meV. Ties go to z, then
# x, then y (cubic crystals have no preferred axis).
DEGENERACY = 1e-5
PREFERENCE = ("z", "x", "y")


def easy_axis(energies: dict[str, float]) -> str:
    """The axis of lowest energy (meV); near-ties resolved by `PREFERENCE`."""
    lowest = min(energies.values())
    return next(a for a in PREFERENCE if energies[a] - lowest <= DEGENERACY)


def soc_energies(calc) -> dict[str, float]:
    """Sum of occupied spin-orbit eigenvalues (meV) for spins along x, y, z."""
    from gpaw.spinorbit import soc_eigenstates

    return {
        axis: 1000.0
        * soc_eigenstates(calc, theta=theta, phi=phi).calculate_band_energy()
        for axis, (theta, phi) in AXES.items()
    }


def is_magnetic(calc) -> bool:
    """Spin-polarized with a local moment of `MAGMOM_THRESHOLD` or more.

    The same rule as `asr.magstate` (anything but "nm").
    """
    if calc.get_number_of_spins() == 1:
        return False
    magmoms = np.asarray(calc.get_magnetic_moments(), dtype=float)
    return float(np.abs(magmoms).max(initial=0.0)) >= MAGMOM_THRESHOLD


def easy_axis_of(calc) -> str:
    """x, y or z: the easy axis of a magnetic ground state, z otherwise."""
    return easy_axis(soc_energies(calc)) if is_magnetic(calc) else "z"


def spin_axis(atoms: Atoms, calculator: dict[str, Any]) -> tuple[float, float]:
    """(θ, φ) in degrees of the spins for SOC, from `asr.magnetic_anisotropy`."""
    from .magnetic_anisotropy import main as anisotropy

    result = anisotropy(atoms, calculator).result
    return result.theta, result.phi


def spin_along_axis(soc, theta: float, phi: float) -> np.ndarray:
    """The spin projection of each SOC state on the spin axis (θ, φ in degrees).

    ⟨s_z⟩ for spins along z; for a magnet with in-plane spins the projection
    on its easy axis is the one that tells majority from minority states.
    """
    t, p = np.radians(theta), np.radians(phi)
    axis = np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)])
    return np.asarray(soc.spin_projections()) @ axis
