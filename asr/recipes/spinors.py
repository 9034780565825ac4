"""Spin-orbit coupling added to quasiparticle energies (HSE06, G0W0).

GPAW's `gpaw.spinorbit.soc_eigenstates` diagonalises the spin-orbit
Hamiltonian in the basis of the Kohn-Sham states of a band window, with
other (quasiparticle) energies on its diagonal if given. `asr.gw` (its SOC
gap) and the quasiparticle band structures (`asr.hse_bandstructure`,
`asr.gw_bandstructure`) add SOC that way, with the spins along the material's
axis (`asr.recipes.spinaxis`). A window that starts above the lowest band
holds only some of the electrons, so GPAW's own Fermi level would be wrong:
which spinors are occupied is counted from the states without SOC instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gs import BandEdges, band_edges
from .hse import fermi_level_between
from .spinaxis import spin_along_axis

#: Levels closer than this (eV) count as one degenerate level.
DEGENERACY = 1e-3


def cut_levels(
    energies: np.ndarray, n1: int, n2: int, shown: tuple[float, float]
) -> list[str]:
    """Where the band window n1 <= n < n2 splits a degenerate level.

    `energies` (spins, k, all bands) without SOC. Spin-orbit coupling mixes
    the states of a level; with only some of them in the window, that
    level's split comes out wrong (e.g. Si's threefold valence top at Γ
    with two of its bands). Only levels in the energy range `shown` count:
    deep bands touch at zone boundaries in most materials (Si's lowest two
    at X) and nobody reads their split. Each cut is described, else [].
    """
    low, high = shown
    cuts = []
    for inside, outside, edge in ((n1, n1 - 1, "lowest"), (n2 - 1, n2, "highest")):
        if not 0 <= outside < energies.shape[2]:
            continue
        level = energies[..., inside]
        gap = np.abs(level - energies[..., outside])
        gap[(level < low) | (level > high)] = np.inf
        if (gap < DEGENERACY).any():
            s, k = np.unravel_index(np.argmin(gap), gap.shape)
            cuts.append(
                f"the {edge} band of the window ({inside}) is degenerate with "
                f"band {outside} outside it at k-point {k} "
                f"({energies[s, k, inside]:.3f} eV)"
            )
    return cuts


@dataclass
class SpinorBands:
    """Spinor energies of a band window and their edges."""

    energies: np.ndarray  # (k-points, spinor bands), sorted at each k-point
    spin: np.ndarray  # spin projection of each spinor on the spin axis
    efermi: float  # mid-gap (the highest occupied spinor of a metal)
    edges: BandEdges


def spinor_bands(
    calc,
    n1: int,
    n2: int,
    eigenvalues: np.ndarray,
    occupied: np.ndarray,
    axis: tuple[float, float],
) -> SpinorBands:
    """`eigenvalues` (spins, k, bands n1..n2) of `calc` with spin-orbit coupling.

    `occupied` (same shape) says which states without SOC hold electrons: as
    many spinors are occupied at each k-point (twice as many of a spin-paired
    calculation). `axis` is the spin direction (θ, φ) in degrees. The
    spinors are those of every k-point of the Brillouin zone
    (`calc.get_bz_k_points()`): SOC breaks the symmetry of the spins.
    """
    from gpaw.spinorbit import soc_eigenstates

    theta, phi = axis
    soc = soc_eigenstates(
        calc, n1=n1, n2=n2, eigenvalues=eigenvalues, theta=theta, phi=phi
    )
    e_km = soc.eigenvalues()
    order = np.argsort(e_km, axis=1)
    e_km = np.take_along_axis(e_km, order, axis=1)
    s_km = np.take_along_axis(spin_along_axis(soc, theta, phi), order, axis=1)
    per_state = 2 if len(eigenvalues) == 1 else 1
    nocc_k = (occupied.sum(axis=(0, 2)) * per_state)[calc.get_bz_to_ibz_map()]
    filled = np.arange(e_km.shape[1]) < nocc_k[:, np.newaxis]
    efermi = fermi_level_between(e_km, filled)
    if e_km[~filled].min(initial=np.inf) <= e_km[filled].max():
        edges = BandEdges(0.0, 0.0, None, None, None, None, None, None, None)
    else:
        edges = band_edges(e_km[np.newaxis], efermi, calc.get_bz_k_points())
    return SpinorBands(e_km, np.asarray(s_km, dtype=float), efermi, edges)
