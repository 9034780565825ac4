"""Shift current (bulk photovoltaic effect) spectrum (GPAW's `gpaw.nlopt`).

The shift-current conductivity σ_abc(0; ω, -ω) of a non-magnetic
semiconductor under linearly polarized light, in the independent-particle
approximation, from momentum matrix elements of PBE wave functions on a
k-point grid without symmetry (`asr.wavefunctions`,
`gpaw.nlopt.matrixel.make_nlodata`, `gpaw.nlopt.shift.get_shift`). Only the
components that the crystal's point group allows are computed (σ_abc =
σ_acb; all vanish with an inversion centre). Bulk values are in μA/V²; for
a 2D material the sheet conductivity (σ times the cell height) is given, in
nm·μA/V².
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, check_2d, dimensionality
from .formalpolarization import nonperiodic_measure
from .shg import (
    NLO_KPTS,
    allowed_components,
    cartesian_rotations,
    nlo_data,
    run_quietly,
)


@dataclass
class ShiftResult(Result):
    title = "Shift current"
    frequencies: np.ndarray = field(metadata=key("Frequencies ħω", "eV"))
    components: list = field(
        metadata=key("Components abc allowed by symmetry (b <= c), e.g. 'xyz'")
    )
    sigma: np.ndarray = field(
        metadata=key(
            "Shift-current conductivity σ_abc(ω) (component, frequency)",
            "μA/V² (bulk), nm·μA/V² (2D)",
        )
    )
    max_shift: float = field(
        metadata=key(
            "Largest |σ_abc(ω)| over the frequencies (0 when symmetry forbids it)",
            "μA/V² (bulk), nm·μA/V² (2D)",
            database=True,
        )
    )
    zero_by_symmetry: bool = field(
        metadata=key("Whether symmetry makes every component vanish")
    )
    unit: str = field(metadata=key("Unit of σ"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        for name, sigma in zip(self.components, self.sigma):
            ax.plot(self.frequencies, sigma, label=name)
        if not self.components:
            ax.text(0.5, 0.5, "σ = 0 by symmetry", ha="center", transform=ax.transAxes)
        else:
            ax.legend(ncol=2, fontsize=8)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_xlabel("ħω [eV]")
        ax.set_ylabel(f"σ(0; ω, -ω) [{self.unit}]")
        ax.set_xlim(self.frequencies[0], self.frequencies[-1])
        fig.tight_layout()
        path = Path(folder) / "shift.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["shift.png"]
        return panel


@instruction("asr.shift", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = NLO_KPTS,
    nbands: int | str = "300%",
    eta: float = 0.05,
    omegamax: float = 10.0,
    nfrequencies: int = 301,
    eshift: float = 0.0,
) -> ShiftResult:
    """Shift-current spectrum on a `kpts` grid with `nbands` bands.

    `eta` (eV) broadens the spectrum and `eshift` (eV) is a scissors shift
    of the conduction bands.
    """
    from gpaw.nlopt.shift import get_shift

    check_2d(atoms)
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("asr.shift is for bulk and 2D materials (vacuum along z)")
    components = allowed_components(cartesian_rotations(atoms))
    frequencies = np.linspace(0.0, omegamax, nfrequencies)
    # A/V² -> μA/V², times the height (Å -> nm) for a sheet.
    scale = 1e6 * (nonperiodic_measure(atoms) * 0.1 if dim == 2 else 1.0)
    sigma = np.zeros((len(components), nfrequencies))
    if components:
        data, _ = nlo_data(atoms, calculator, kpts, nbands)
        for n, component in enumerate(components):
            spectrum = run_quietly(
                get_shift,
                data,
                freqs=frequencies,
                eta=eta,
                pol=component,
                eshift=eshift,
            )
            sigma[n] = spectrum[1].real * scale
    return ShiftResult(
        frequencies=frequencies,
        components=components,
        sigma=sigma,
        max_shift=float(np.abs(sigma).max()) if components else 0.0,
        zero_by_symmetry=not components,
        unit="nm·μA/V²" if dim == 2 else "μA/V²",
    )
