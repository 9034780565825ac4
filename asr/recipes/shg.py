"""Second-harmonic generation (SHG) susceptibility (GPAW's `gpaw.nlopt`).

The second-order susceptibility χ_ijk(-2ω; ω, ω) of a non-magnetic
semiconductor in the independent-particle approximation, in the length
gauge, from momentum matrix elements of PBE wave functions on a k-point grid
without symmetry (`asr.wavefunctions`, `gpaw.nlopt.matrixel.make_nlodata`,
`gpaw.nlopt.shg.get_shg`). Only the components that the crystal's point
group allows are computed (χ_ijk = χ_ikj; all vanish with an inversion
centre, and then no wave functions are computed). Bulk values are in pm/V;
for a 2D material the sheet susceptibility (χ times the cell height) is
given, in pm²/V.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, check_2d, dimensionality
from .formalpolarization import nonperiodic_measure
from .wavefunctions import main as wavefunctions

NLO_KPTS = {"density": 25.0, "gamma": True}
# Components smaller than this (relative to the largest) vanish by symmetry.
SYMMETRY_TOLERANCE = 1e-6


@dataclass
class SHGResult(Result):
    title = "Second-harmonic generation"
    frequencies: np.ndarray = field(metadata=key("Frequencies ħω", "eV"))
    components: list = field(
        metadata=key("Components ijk allowed by symmetry (j <= k), e.g. 'xyz'")
    )
    chi: np.ndarray = field(
        metadata=key(
            "SHG susceptibility χ_ijk(ω) (component, frequency), complex",
            "pm/V (bulk), pm²/V (2D)",
        )
    )
    chi_static: np.ndarray = field(
        metadata=key("Real part of χ_ijk at ω = 0 for each component", "pm/V or pm²/V")
    )
    max_chi_static: float = field(
        metadata=key(
            "Largest |χ_ijk(0)| (0 when symmetry forbids SHG)",
            "pm/V (bulk), pm²/V (2D)",
            database=True,
        )
    )
    zero_by_symmetry: bool = field(
        metadata=key(
            "Whether symmetry (e.g. an inversion centre) makes every component vanish"
        )
    )
    unit: str = field(metadata=key("Unit of χ"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        for name, chi in zip(self.components, self.chi):
            ax.plot(self.frequencies, np.abs(chi), label=name)
        if not self.components:
            ax.text(0.5, 0.5, "χ = 0 by symmetry", ha="center", transform=ax.transAxes)
        else:
            ax.legend(ncol=2, fontsize=8)
        ax.set_xlabel("ħω [eV]")
        ax.set_ylabel(f"|χ(-2ω; ω, ω)| [{self.unit}]")
        ax.set_xlim(self.frequencies[0], self.frequencies[-1])
        ax.set_ylim(bottom=0)
        fig.tight_layout()
        path = Path(folder) / "shg.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["shg.png"]
        return panel


def cartesian_rotations(atoms: Atoms, symprec: float = 1e-3) -> np.ndarray:
    """The point-group operations of `atoms` as Cartesian matrices."""
    import spglib  # imported when used: keeps `asr list` quick

    cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        return np.eye(3)[np.newaxis]
    a = atoms.cell.array.T  # columns: cell vectors
    return np.array([a @ r @ np.linalg.inv(a) for r in dataset.rotations])


def allowed_components(rotations: np.ndarray) -> list[str]:
    """Components ijk (j <= k) of a rank-3 tensor symmetric in its last two
    indices that do not vanish under every rotation of the point group."""
    projector = np.einsum("gia,gjb,gkc->ijkabc", rotations, rotations, rotations) / len(
        rotations
    )
    found = []
    for i, j, k in itertools.product(range(3), repeat=3):
        if j > k:
            continue
        unit = np.zeros((3, 3, 3))
        unit[i, j, k] = unit[i, k, j] = 1.0
        image = np.einsum("ijkabc,abc->ijk", projector, unit)
        if np.abs(image).max() > SYMMETRY_TOLERANCE:
            found.append("xyz"[i] + "xyz"[j] + "xyz"[k])
    return found


def nlo_data(atoms: Atoms, calculator: dict, kpts: dict, nbands: int | str):
    """Momentum matrix elements on a grid without symmetry (gpaw.nlopt)."""
    from gpaw.nlopt.matrixel import make_nlodata

    wfs = wavefunctions(
        atoms, calculator, kpts=kpts, nbands=nbands, symmetry=False
    ).result
    return make_nlodata(str(wfs.gpw.path), nf=wfs.nbands), wfs


def run_quietly(function, *args, **kwargs):
    """Run a gpaw.nlopt spectrum function in a scratch folder, without output.

    They write a .npy file and print a progress bar.
    """
    from contextlib import redirect_stdout

    with tempfile.TemporaryDirectory() as scratch, open(os.devnull, "w") as null:
        with redirect_stdout(null):
            return function(
                *args, out_name=os.path.join(scratch, "spectrum.npy"), **kwargs
            )


@instruction("asr.shg", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = NLO_KPTS,
    nbands: int | str = "300%",
    eta: float = 0.05,
    omegamax: float = 10.0,
    nfrequencies: int = 301,
    eshift: float = 0.0,
) -> SHGResult:
    """SHG spectrum on a `kpts` grid with `nbands` bands, broadened by `eta` eV.

    `eshift` (eV) is a scissors shift of the conduction bands.
    """
    from gpaw.nlopt.shg import get_shg

    check_2d(atoms)
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("asr.shg is for bulk and 2D materials (vacuum along z)")
    components = allowed_components(cartesian_rotations(atoms))
    frequencies = np.linspace(0.0, omegamax, nfrequencies)
    # m/V -> pm/V, times the height (Å -> pm) for a sheet.
    scale = 1e12 * (nonperiodic_measure(atoms) * 1e2 if dim == 2 else 1.0)
    chi = np.zeros((len(components), nfrequencies), complex)
    if components:
        data, _ = nlo_data(atoms, calculator, kpts, nbands)
        for n, component in enumerate(components):
            spectrum = run_quietly(
                get_shg,
                data,
                freqs=frequencies,
                eta=eta,
                pol=component,
                eshift=eshift,
                gauge="lg",
            )
            chi[n] = spectrum[1] * scale
    static = chi[:, 0].real if components else np.zeros(0)
    return SHGResult(
        frequencies=frequencies,
        components=components,
        chi=chi,
        chi_static=static,
        max_chi_static=float(np.abs(static).max()) if components else 0.0,
        zero_by_symmetry=not components,
        unit="pm²/V" if dim == 2 else "pm/V",
    )
