"""Charge transition levels and the self-consistent (charge-neutral) Fermi level.

Pure functions, used by `asr.defectformation`. Energies are in eV with the
Fermi level E_F measured from the host's valence band maximum (VBM). A
defect in charge state q has the formation energy

    E_f(q, E_F) = E_f(q, 0) + q E_F,

a line in E_F (Bertoldo et al., npj Comput. Mater. 8, 56 (2022)). Its
concentration per cell at temperature T is c_q = N exp(-E_f / k_B T) with N
sites per cell (no degeneracy factor of the electronic or structural
configuration). The host's electrons and holes come from its one-electron
levels: a discrete DOS (eigenvalues with k-point weights, or a DOS on a grid
times its spacing). The equilibrium Fermi level is where

    Σ_defects Σ_q q c_q(E_F) + p(E_F) - n(E_F) = 0.

The left side falls monotonically with E_F, so bisection finds its one zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.units import kB

HBAR2_2ME = 3.80998  # ħ²/2mₑ in eV Å²


@dataclass
class ChargedDefect:
    """Formation energies at E_F = VBM (eV) of one defect's charge states."""

    name: str
    charges: tuple[int, ...]
    energies: tuple[float, ...]  # E_f(q, E_F=0), eV
    sites: float = 1.0  # per cell

    def at(self, fermi_level: float) -> np.ndarray:
        """E_f(q) of every charge state at `fermi_level` (eV)."""
        return np.asarray(self.energies) + np.asarray(self.charges) * fermi_level


@dataclass
class Levels:
    """Host one-electron levels (eV from the VBM), each holding `weights` states.

    Levels below mid-gap are valence (they give holes), those above are
    conduction levels (they give electrons). Weights are states per cell,
    spin included.
    """

    energies: np.ndarray
    weights: np.ndarray
    gap: float

    def carriers(self, fermi_level: float, temperature: float) -> tuple[float, float]:
        """(electrons n, holes p) per cell at `fermi_level`."""
        from scipy.special import expit  # 1/(1+exp(-x)) without overflow

        kt = kB * temperature
        x = (self.energies - fermi_level) / kt
        conduction = self.energies > self.gap / 2
        n = float(np.sum(self.weights[conduction] * expit(-x[conduction])))
        p = float(np.sum(self.weights[~conduction] * expit(x[~conduction])))
        return n, p


@dataclass
class Neutrality:
    """The charge-neutral state of the host with its defects."""

    fermi_level: float  # eV above the VBM
    concentrations: list[np.ndarray]  # per cell, per defect and charge state
    electrons: float  # per cell
    holes: float  # per cell


def parabolic_levels(
    gap: float,
    hole_mass: float,
    electron_mass: float,
    size: float,
    dim: int = 3,
    depth: float = 1.5,
    points: int = 3000,
) -> Levels:
    """Levels of one parabolic valence and one conduction band (spin 2).

    `size` is the cell's volume (Å³, dim 3) or area (Å², dim 2); masses are
    in electron masses. For effective masses from `asr.emasses` where no
    DOS is at hand.
    """
    depths = np.linspace(0.0, depth, points + 1)
    step = depths[1] - depths[0]
    centres = depths[:-1] + step / 2

    def dos(mass: float) -> np.ndarray:
        if dim == 3:
            return size / (2 * np.pi**2) * (mass / HBAR2_2ME) ** 1.5 * np.sqrt(centres)
        if dim == 2:
            return np.full_like(centres, size * mass / (2 * np.pi * HBAR2_2ME))
        raise ValueError(f"dim must be 2 or 3, not {dim}")

    return Levels(
        energies=np.concatenate([-centres, gap + centres]),
        weights=np.concatenate([dos(hole_mass), dos(electron_mass)]) * step,
        gap=gap,
    )


def lowest_states(charges, energies, gap: float) -> list[tuple[float, float, int]]:
    """The lower envelope of E_f(q, E_F) for 0 ≤ E_F ≤ gap.

    A list of (start, end, q): the stable charge state q from E_F = start
    to end. The inner ends are the thermodynamic transition levels.
    """
    charges = np.asarray(charges, dtype=int)
    energies = np.asarray(energies, dtype=float)
    # At the VBM the lowest line; on a tie the one that falls fastest.
    current = min(range(len(charges)), key=lambda i: (energies[i], charges[i]))
    start, segments = 0.0, []
    while True:
        crossings = [
            ((energies[j] - energies[current]) / (charges[current] - charges[j]), j)
            for j in range(len(charges))
            if charges[j] < charges[current]
        ]
        crossings = [(x, j) for x, j in crossings if x >= start]
        if not crossings:
            break
        level, following = min(crossings, key=lambda c: (c[0], charges[c[1]]))
        if level >= gap:
            break
        segments.append((start, level, int(charges[current])))
        start, current = level, following
    segments.append((start, gap, int(charges[current])))
    return segments


def transition_levels(charges, energies, gap: float) -> list[tuple[int, int, float]]:
    """(q, q', ε(q/q')) in the gap, eV above the VBM, as E_F rises."""
    segments = lowest_states(charges, energies, gap)
    return [
        (left[2], right[2], left[1])
        for left, right in zip(segments, segments[1:], strict=False)
    ]


def net_charge(
    fermi_level: float,
    defects: list[ChargedDefect],
    levels: Levels,
    temperature: float,
) -> float:
    """Σ q c_q + p - n per cell (in units of e) at `fermi_level`."""
    kt = kB * temperature
    n, p = levels.carriers(fermi_level, temperature)
    total = p - n
    for defect in defects:
        c = defect.sites * np.exp(-defect.at(fermi_level) / kt)
        total += float(np.dot(defect.charges, c))
    return total


def solve(
    defects: list[ChargedDefect],
    levels: Levels,
    temperature: float = 300.0,
    tolerance: float = 1e-7,
) -> Neutrality:
    """The Fermi level (eV above the VBM) of zero net charge, by bisection."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, not {temperature} K")
    low, high = -1.0, levels.gap + 1.0
    for _ in range(20):  # widen the bracket until the net charge changes sign
        if net_charge(low, defects, levels, temperature) < 0:
            low -= 1.0
        elif net_charge(high, defects, levels, temperature) > 0:
            high += 1.0
        else:
            break
    else:
        raise ValueError("no charge-neutral Fermi level within 20 eV of the gap")
    while high - low > tolerance:
        middle = (low + high) / 2
        if net_charge(middle, defects, levels, temperature) > 0:
            low = middle
        else:
            high = middle
    fermi = (low + high) / 2
    kt = kB * temperature
    n, p = levels.carriers(fermi, temperature)
    return Neutrality(
        fermi_level=fermi,
        concentrations=[d.sites * np.exp(-d.at(fermi) / kt) for d in defects],
        electrons=n,
        holes=p,
    )
