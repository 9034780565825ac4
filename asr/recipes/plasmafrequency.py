"""Intraband (Drude) plasma frequency of a metal.

GPAW's response code (`gpaw.response.chi0_drude.Chi0DrudeCalculator`, the
intraband part of `gpaw.response.df`) integrates the band velocities over the
Fermi surface, by the linear tetrahedron method, on the wave functions of
`asr.wavefunctions`, on a Γ-centred grid of `kptdensity` points per Å⁻¹
that holds the corners of the irreducible zone. A material with a band gap
has no intraband plasma frequency: zero, computed without a response
calculation.

For a 2D material the plasma frequency of the cell is turned into the sheet
plasma frequency ω₂D = (ω_p² L / 2)^½ (L: cell height), which gives the 2D
plasmon dispersion ω(q) = ω₂D √q, in eV Å^½.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr, Ha

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .gs import main as groundstate
from .wavefunctions import main as wavefunctions


@dataclass
class PlasmaFrequencyResult(Result):
    title = "Plasma frequency"
    plasmafrequency_x: float = field(
        metadata=key(
            "Intraband plasma frequency, x", "eV (3D), eV Å^½ (2D)", database=True
        )
    )
    plasmafrequency_y: float = field(
        metadata=key(
            "Intraband plasma frequency, y", "eV (3D), eV Å^½ (2D)", database=True
        )
    )
    plasmafrequency_z: float | None = field(
        metadata=key("Intraband plasma frequency, z (3D only)", "eV", database=True)
    )
    plasmafrequency_vv: np.ndarray = field(
        metadata=key("Square of the plasma frequency tensor of the cell", "eV²")
    )
    unit: str = field(metadata=key("Unit of the plasma frequencies"))


def plasma_frequency_squared(gpw) -> np.ndarray:
    """ω_p² (3x3, Hartree²) of the intraband transitions, from a .gpw with wfs."""
    from gpaw.response import ResponseContext, ResponseGroundStateAdapter
    from gpaw.response.chi0_drude import Chi0DrudeCalculator
    from gpaw.response.frequencies import FrequencyGridDescriptor

    gs = ResponseGroundStateAdapter.from_gpw_file(gpw)
    drude = Chi0DrudeCalculator(
        gs, ResponseContext(txt=None), integrationmode="tetrahedron integration"
    )
    # The plasma frequency needs no frequencies; the Drude term wants one.
    data = drude.calculate(FrequencyGridDescriptor([0.0]), 0.1)
    return np.asarray(data.plasmafreq_vv.real)


def tetrahedron_grid(atoms: Atoms, kptdensity: float) -> dict[str, Any]:
    """GPAW's smallest Γ-centred grid of `kptdensity` holding the zone's corners.

    The tetrahedron integration needs every vertex of the irreducible zone on
    the grid (`gpaw.bztools.optimal_monkhorst_pack_grid`).
    """
    import contextlib
    import io

    from gpaw.bztools import optimal_monkhorst_pack_grid

    with contextlib.redirect_stdout(io.StringIO()):  # it explains itself
        grid = optimal_monkhorst_pack_grid(
            atoms,
            kptdensity=kptdensity,
            force_gamma=True,
            force_even=True,
            contains_ibz_vertices=True,
        )
    return {"size": [int(n) for n in grid["size"]], "gamma": True}


def frequencies(wp2_vv: np.ndarray, atoms: Atoms) -> list[float]:
    """ω_p of each Cartesian axis (eV), or ω₂D in plane (eV Å^½) for 2D."""
    wp2_v = np.clip(np.diag(wp2_vv), 0.0, None)  # Hartree²
    if dimensionality(atoms) == 2:
        height = abs(atoms.cell[2, 2]) / Bohr
        return [float(np.sqrt(w * height / 2) * Ha * Bohr**0.5) for w in wp2_v[:2]]
    return [float(np.sqrt(w) * Ha) for w in wp2_v]


@instruction("asr.plasmafrequency", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kptdensity: float = 20.0,
) -> PlasmaFrequencyResult:
    """Intraband plasma frequency on a grid of `kptdensity` points per Å⁻¹."""
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("a plasma frequency needs a 2D or 3D periodic structure")
    gs = groundstate(atoms, calculator).result
    if gs.gap > 0.0:
        wp2_vv = np.zeros((3, 3))
    else:
        wfs = wavefunctions(atoms, calculator, kpts=tetrahedron_grid(atoms, kptdensity))
        wp2_vv = plasma_frequency_squared(wfs.result.gpw.path)
    omega = frequencies(wp2_vv, atoms)
    return PlasmaFrequencyResult(
        plasmafrequency_x=omega[0],
        plasmafrequency_y=omega[1],
        plasmafrequency_z=omega[2] if dim == 3 else None,
        plasmafrequency_vv=wp2_vv * Ha**2,
        unit="eV" if dim == 3 else "eV Å^½",
    )
