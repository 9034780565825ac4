"""HSE06 band gap and band edges, non-self-consistently on PBE wave functions.

The HSE06 eigenvalues are ε_HSE = ε_PBE - v_xc^PBE + v_xc^HSE, evaluated with
the PBE wave functions of `asr.wavefunctions` (GPAW's
`gpaw.hybrids.eigenvalues.non_self_consistent_eigenvalues`), on a k-point
grid that contains Γ. Spin-orbit coupling is added afterwards to the HSE
eigenvalues (`gpaw.spinorbit.soc_eigenstates`, spins along the easy
axis of a magnet: `asr.recipes.spinaxis`). Which states
are occupied is taken from the PBE ground state: the HSE Fermi level is put
in the middle of the HSE gap (or at the highest occupied state of a metal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .gs import band_edges
from .spinaxis import spin_axis
from .wavefunctions import main as wavefunctions

XC = "HSE06"
# The hybrid's cost grows as the square of the number of k-points.
HSE_KPTS = {"density": 8.0, "gamma": True}


@dataclass
class HSEResult(Result):
    title = "HSE06 band gap"
    gap_hse: float = field(
        metadata=key("HSE06 band gap without spin-orbit coupling", "eV", database=True)
    )
    gap_dir_hse: float = field(
        metadata=key(
            "HSE06 direct band gap without spin-orbit coupling", "eV", database=True
        )
    )
    vbm_hse: float | None = field(
        metadata=key("HSE06 valence band maximum (None: a metal)", "eV", database=True)
    )
    cbm_hse: float | None = field(
        metadata=key(
            "HSE06 conduction band minimum (None: a metal)", "eV", database=True
        )
    )
    efermi_hse: float = field(
        metadata=key("HSE06 Fermi level (mid-gap for an insulator)", "eV")
    )
    k_vbm_hse: np.ndarray | None = field(
        metadata=key("k-point of the HSE06 VBM (scaled, IBZ)")
    )
    k_cbm_hse: np.ndarray | None = field(
        metadata=key("k-point of the HSE06 CBM (scaled, IBZ)")
    )
    gap_hse_soc: float = field(
        metadata=key("HSE06 band gap with spin-orbit coupling", "eV", database=True)
    )
    gap_dir_hse_soc: float = field(
        metadata=key("HSE06 direct band gap with spin-orbit coupling", "eV")
    )
    vbm_hse_soc: float | None = field(
        metadata=key("HSE06 valence band maximum with spin-orbit coupling", "eV")
    )
    cbm_hse_soc: float | None = field(
        metadata=key("HSE06 conduction band minimum with spin-orbit coupling", "eV")
    )
    efermi_hse_soc: float = field(
        metadata=key("Fermi level of the HSE06 eigenvalues with spin-orbit", "eV")
    )
    gap_pbe: float = field(
        metadata=key("PBE band gap on the same k-points (for comparison)", "eV")
    )
    vbm_pbe: float | None = field(
        metadata=key("PBE valence band maximum on the same k-points", "eV")
    )
    kpts: np.ndarray = field(metadata=key("Irreducible k-points (scaled)"))
    eigenvalues_pbe: np.ndarray = field(
        metadata=key("PBE eigenvalues (spin, IBZ k-point, band)", "eV")
    )
    eigenvalues_hse: np.ndarray = field(
        metadata=key("HSE06 eigenvalues (spin, IBZ k-point, band)", "eV")
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        nk = self.eigenvalues_hse.shape[1]
        x = np.arange(nk)
        for label, eps, top, shift, color in (
            ("PBE", self.eigenvalues_pbe, self.vbm_pbe, -0.12, "0.5"),
            ("HSE06", self.eigenvalues_hse, self.vbm_hse, 0.12, "C0"),
        ):
            top = self.efermi_hse if top is None else top
            xs = np.repeat(x, eps.shape[2])[np.newaxis].repeat(len(eps), 0)
            ax.plot(
                xs.ravel() + shift,
                (eps - top).ravel(),
                ls="",
                marker="_",
                ms=10,
                color=color,
                label=label,
            )
        ax.axhline(0.0, color="C1", ls=":", lw=0.8)
        ax.legend(loc="upper right")
        ax.set_xticks(x)
        ax.set_xlabel("irreducible k-point")
        ax.set_ylabel("energy relative to the VBM [eV]")
        ax.set_ylim(-5, 5)
        ax.set_title(f"HSE06 gap {self.gap_hse:.2f} eV (PBE {self.gap_pbe:.2f} eV)")
        fig.tight_layout()
        path = Path(folder) / "hse-eigenvalues.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["hse-eigenvalues.png"]
        return panel


def fermi_level_between(eigenvalues: np.ndarray, occupied: np.ndarray) -> float:
    """Mid-gap between the `occupied` states and the others (the top occupied
    state if they overlap: a metal)."""
    top = float(eigenvalues[occupied].max())
    empty = eigenvalues[~occupied]
    if empty.size == 0:
        return top
    bottom = float(empty.min())
    return (top + bottom) / 2 if bottom > top else top


@instruction("asr.hse", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = HSE_KPTS,
    empty_bands: int = 8,
) -> HSEResult:
    """HSE06 eigenvalues of the occupied and `empty_bands` empty bands.

    `kpts` is the k-point grid of the hybrid calculation (the cost grows as
    the square of its number of points); it must contain Γ.
    """
    from gpaw import GPAW
    from gpaw.hybrids.eigenvalues import non_self_consistent_eigenvalues
    from gpaw.spinorbit import soc_eigenstates

    if empty_bands < 1:
        raise ValueError("empty_bands must be at least 1 to find the gap")
    wfs = wavefunctions(atoms, calculator, kpts=kpts, nbands=-empty_bands).result
    calc = GPAW(wfs.gpw.path, txt=None)
    nbands = wfs.nbands
    e_pbe, v_pbe, v_hse = non_self_consistent_eigenvalues(calc, XC, n1=0, n2=nbands)
    e_hse = e_pbe - v_pbe + v_hse
    ibzk = np.asarray(calc.get_ibz_k_points())
    occupied = e_pbe < wfs.efermi
    efermi_hse = fermi_level_between(e_hse, occupied)
    edges = band_edges(e_hse, efermi_hse, ibzk)
    pbe = band_edges(e_pbe, fermi_level_between(e_pbe, occupied), ibzk)

    theta, phi = spin_axis(atoms, calculator)
    soc = soc_eigenstates(
        calc, n1=0, n2=nbands, eigenvalues=e_hse, theta=theta, phi=phi
    )
    soc_edges = band_edges(
        soc.eigenvalues()[np.newaxis], soc.fermi_level, calc.get_bz_k_points()
    )
    return HSEResult(
        gap_hse=edges.gap,
        gap_dir_hse=edges.gap_dir,
        vbm_hse=edges.vbm,
        cbm_hse=edges.cbm,
        efermi_hse=efermi_hse,
        k_vbm_hse=edges.k_vbm,
        k_cbm_hse=edges.k_cbm,
        gap_hse_soc=soc_edges.gap,
        gap_dir_hse_soc=soc_edges.gap_dir,
        vbm_hse_soc=soc_edges.vbm,
        cbm_hse_soc=soc_edges.cbm,
        efermi_hse_soc=float(soc.fermi_level),
        gap_pbe=pbe.gap,
        vbm_pbe=pbe.vbm,
        kpts=ibzk,
        eigenvalues_pbe=np.asarray(e_pbe),
        eigenvalues_hse=np.asarray(e_hse),
    )
