"""Optical polarizability in the random-phase approximation (`gpaw.response.df`).

The macroscopic polarizability α(ω) along x, y and z, with and without local
field effects, from GPAW's `DielectricFunction` at q → 0 on PBE wave
functions with many empty bands (`asr.wavefunctions`). α is defined so that
it does not depend on the vacuum: α = L/(4π) (ε - 1) with L the length (2D:
the cell height) or volume of the non-periodic directions, so α is
dimensionless for bulk (ε = 1 + 4πα) and in Å for a 2D material, which uses
GPAW's truncated Coulomb interaction. Only interband transitions are
included (no Drude term): the static values of a metal are not meaningful.

GPAW builds Re α from Im α by a Hilbert (Kramers-Kronig) transform on its
frequency grid, and a transition above the grid's top is left out of both.
The grid therefore always reaches the largest transition among the `nbands`
bands (GPAW's own default); `omegamax` only trims the stored spectrum.
Version 1 cut the grid at `omegamax` and so missed every transition above
it: h-BN (6x6 k) gave α_x 0.19 Å and α_z exactly 0 with omegamax = 5 eV,
0.68 and 0.009 Å with 10 eV, against 1.07 and 0.16 Å now; at the default
20 eV it was 3-4 % low (0.96 and 0.149 Å against 0.99 and 0.153 Å at
12x12 k). A finite field (two PBE ground states) gives α_z = 0.18-0.20 Å,
MoS2's α_x here is 6.2 Å (12x12 k; C2DB: about 6 Å).

A single k-point (Γ only) is refused: GPAW then keeps real wave functions,
whose phases its response code discards, and α comes out NaN or meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .wavefunctions import kpts_argument
from .wavefunctions import main as wavefunctions

OPTICS_KPTS = {"density": 20.0, "gamma": True}
UNITS = {3: "", 2: "Å", 1: "Å²", 0: "Å³"}
TRUNCATION = {3: None, 2: "2D", 1: "1D", 0: "0D"}


def refuse_single_kpoint(size) -> None:
    """GPAW's response code is wrong on real (Γ-only) wave functions."""
    if int(np.prod(size)) == 1:
        raise ValueError(
            "asr.polarizability needs more than one k-point: with Γ only GPAW "
            "keeps real wave functions and its response code gives NaN or "
            "meaningless α (use e.g. kpts={'size': [6, 6, 1]} for a 2D cell)"
        )


@dataclass
class PolarizabilityResult(Result):
    title = "Optical polarizability (RPA)"
    frequencies: np.ndarray = field(metadata=key("Frequencies ħω", "eV"))
    alphax_w: np.ndarray = field(
        metadata=key("Polarizability along x with local field effects (complex)")
    )
    alphay_w: np.ndarray = field(
        metadata=key("Polarizability along y with local field effects (complex)")
    )
    alphaz_w: np.ndarray = field(
        metadata=key("Polarizability along z with local field effects (complex)")
    )
    alphax_nolf_w: np.ndarray = field(
        metadata=key("Polarizability along x without local field effects")
    )
    alphay_nolf_w: np.ndarray = field(
        metadata=key("Polarizability along y without local field effects")
    )
    alphaz_nolf_w: np.ndarray = field(
        metadata=key("Polarizability along z without local field effects")
    )
    alphax_el: float = field(
        metadata=key(
            "Static electronic polarizability along x", "Å for 2D", database=True
        )
    )
    alphay_el: float = field(
        metadata=key(
            "Static electronic polarizability along y", "Å for 2D", database=True
        )
    )
    alphaz_el: float = field(
        metadata=key(
            "Static electronic polarizability along z", "Å for 2D", database=True
        )
    )
    unit: str = field(metadata=key("Unit of the polarizability (empty: none)"))
    dimensionality: int = field(metadata=key("Number of periodic directions"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.2))
        axes = fig.subplots(1, 3, sharey=True)
        unit = f" [{self.unit}]" if self.unit else ""
        for ax, name in zip(axes, "xyz"):
            lf = getattr(self, f"alpha{name}_w")
            nolf = getattr(self, f"alpha{name}_nolf_w")
            w = self.frequencies
            ax.plot(w, lf.real, color="C0", label="Re α")
            ax.plot(w, lf.imag, color="C1", label="Im α")
            ax.plot(w, nolf.real, color="C0", ls="--", lw=0.8, label="no LFE")
            ax.plot(w, nolf.imag, color="C1", ls="--", lw=0.8)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_xlim(w[0], w[-1])
            ax.set_xlabel("ħω [eV]")
            ax.set_title(f"{name}-polarization")
        axes[0].set_ylabel("polarizability" + unit)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        path = Path(folder) / "polarizability.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["polarizability.png"]
        return panel


@instruction("asr.polarizability", version=2, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = OPTICS_KPTS,
    nbands: int | str = "500%",
    ecut: float = 50.0,
    eta: float = 0.05,
    omegamax: float = 20.0,
    domega0: float = 0.02,
) -> PolarizabilityResult:
    """RPA polarizability on a Γ-centred `kpts` grid with `nbands` bands.

    `ecut` (eV) is the plane-wave cutoff of the response function (local
    field effects), `eta` (eV) the broadening; GPAW's nonlinear frequency
    grid starts with a spacing of `domega0` (eV) and reaches every
    transition among the `nbands` bands (the static values need them all);
    the stored spectrum ends at the first frequency at or above `omegamax`.
    """
    from gpaw.response.df import DielectricFunction

    dim = dimensionality(atoms)
    grid = kpts_argument(atoms, kpts)
    if grid is not None and "size" in grid:
        refuse_single_kpoint(grid["size"])
    wfs = wavefunctions(atoms, calculator, kpts=kpts, nbands=nbands).result
    refuse_single_kpoint(wfs.kpts_size)
    df = DielectricFunction(
        calc=str(wfs.gpw.path),
        frequencies={"type": "nonlinear", "domega0": domega0},
        eta=eta,
        ecut=ecut,
        nbands=wfs.nbands,
        intraband=False,
        truncation=TRUNCATION[dim],
        txt=None,
    )
    frequencies = np.asarray(df.get_frequencies())
    alpha: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for direction in "xyz":
        nolf, lf = df.get_polarizability(direction=direction, filename=None)
        alpha[direction] = (np.asarray(lf), np.asarray(nolf))
    static = {d: float(alpha[d][0][0].real) for d in "xyz"}
    if not all(np.isfinite(v) for v in static.values()):
        raise RuntimeError(f"GPAW gave a non-finite static polarizability: {static}")
    # Whole grid for the static values above; stored up to omegamax.
    stop = int(np.searchsorted(frequencies, omegamax - 1e-9)) + 1
    frequencies = frequencies[:stop]
    alpha = {d: (lf[:stop], nolf[:stop]) for d, (lf, nolf) in alpha.items()}
    return PolarizabilityResult(
        frequencies=frequencies,
        alphax_w=alpha["x"][0],
        alphay_w=alpha["y"][0],
        alphaz_w=alpha["z"][0],
        alphax_nolf_w=alpha["x"][1],
        alphay_nolf_w=alpha["y"][1],
        alphaz_nolf_w=alpha["z"][1],
        alphax_el=static["x"],
        alphay_el=static["y"],
        alphaz_el=static["z"],
        unit=UNITS[dim],
        dimensionality=dim,
    )
