"""Optical absorption with the Bethe-Salpeter equation and in the RPA.

GPAW's `gpaw.response.bse.BSE` builds the two-particle Hamiltonian of the
`valence_bands` highest valence and `conduction_bands` lowest conduction
bands on PBE wave functions (`asr.wavefunctions`, Γ-centred grid), with the
statically screened interaction W (`screening_bands` bands, cutoff `ecut`).
The same transitions without the electron-hole attraction give the RPA
spectrum (``mode="RPA"``), so the two spectra differ only by excitonic
effects. `eshift` (eV) is a scissors shift of the conduction bands, e.g. the
difference between a G0W0 (`asr.gw`) and the PBE gap. 2D materials (vacuum
along z) use the truncated Coulomb interaction, and their spectra are
polarizabilities α (Å) and absorbance 4πωα''/c; bulk spectra are dielectric
functions ε = 1 + 4πα and the absorption coefficient 2ω Im√ε / c.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import _c, _e, _hbar

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .wavefunctions import main as wavefunctions

BSE_KPTS = {"density": 12.0, "gamma": True}
# The BSE needs completely filled valence and empty conduction bands.
NARROW = {"name": "fermi-dirac", "width": 1e-4}
# ħc in eV·Å: ω/c in 1/Å for ħω in eV.
HBAR_C = _hbar * _c / _e * 1e10
# Share of the largest oscillator strength above which an exciton is bright.
BRIGHT = 0.01


@dataclass
class BSEResult(Result):
    title = "Optical absorption (BSE and RPA)"
    frequencies: np.ndarray = field(metadata=key("Frequencies ħω", "eV"))
    directions: str = field(metadata=key("Polarization directions computed, e.g. xy"))
    alpha_bse: np.ndarray = field(
        metadata=key(
            "BSE polarizability (direction, frequency), complex",
            "Å for 2D, none for bulk",
        )
    )
    alpha_rpa: np.ndarray = field(
        metadata=key(
            "RPA polarizability (direction, frequency), complex",
            "Å for 2D, none for bulk",
        )
    )
    absorption_bse: np.ndarray = field(
        metadata=key(
            "BSE absorbance (2D) or absorption coefficient (bulk) (direction, "
            "frequency)",
            "1 for 2D, 1/cm for bulk",
        )
    )
    absorption_rpa: np.ndarray = field(
        metadata=key(
            "RPA absorbance (2D) or absorption coefficient (bulk)",
            "1 for 2D, 1/cm for bulk",
        )
    )
    exciton_energies: np.ndarray = field(
        metadata=key("Lowest BSE excitation energies (first direction)", "eV")
    )
    exciton_weights: np.ndarray = field(
        metadata=key("Oscillator strengths of those excitations (arbitrary units)")
    )
    e1_bse: float = field(
        metadata=key("Energy of the lowest exciton", "eV", database=True)
    )
    e1_bright_bse: float = field(
        metadata=key(
            "Energy of the lowest bright exciton (strength above 1% of the largest)",
            "eV",
            database=True,
        )
    )
    gap_dir_qp: float = field(
        metadata=key(
            "Direct gap of the bands in the BSE (PBE gap plus eshift)",
            "eV",
        )
    )
    binding_energy_bse: float = field(
        metadata=key(
            "Exciton binding energy: direct gap minus lowest bright exciton",
            "eV",
            database=True,
        )
    )
    eshift: float = field(metadata=key("Scissors shift of the conduction bands", "eV"))
    dimensionality: int = field(metadata=key("Number of periodic directions"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        n = len(self.directions)
        fig = Figure(figsize=(3.6 * n, 3.4))
        axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
        scale, ylabel = (
            (100, "absorbance [%]")
            if self.dimensionality == 2
            else (1e-4, "absorption coefficient [10⁴ cm⁻¹]")
        )
        w = self.frequencies
        for i, (ax, name) in enumerate(zip(axes, self.directions)):
            ax.plot(w, self.absorption_bse[i] * scale, color="C0", label="BSE")
            ax.plot(w, self.absorption_rpa[i] * scale, color="C1", ls="--", label="RPA")
            ax.axvline(self.gap_dir_qp, color="0.6", ls=":", lw=0.8)
            ax.set_xlim(w[0], w[-1])
            ax.set_ylim(bottom=0)
            ax.set_xlabel("ħω [eV]")
            ax.set_title(f"{name}-polarization")
        axes[0].set_ylabel(ylabel)
        axes[0].legend()
        fig.tight_layout()
        path = Path(folder) / "bse-absorption.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["bse-absorption.png"]
        return panel


def absorption(alpha: np.ndarray, frequencies: np.ndarray, dim: int) -> np.ndarray:
    """Absorbance 4πωα''/c of a 2D material; 2ω Im√ε/c (1/cm) of a bulk one."""
    q = frequencies / HBAR_C  # ω/c in 1/Å
    if dim == 2:
        return 4 * np.pi * q * alpha.imag
    epsilon = 1 + 4 * np.pi * alpha
    return 2 * q * np.sqrt(epsilon).imag * 1e8


def spectrum(gpw: str, mode: str, direction: int, frequencies, eta, options):
    """Polarizability along `direction` and the excitations (energies, weights).

    GPAW's BSE writes log files (pair.txt, chi0.txt, w.txt) into the working
    folder: it runs in a scratch folder instead.
    """
    from gpaw.response.bse import BSE, read_bse_eigenvalues

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            bse = BSE(gpw, mode=mode, direction=direction, txt=None, **options)
            _, alpha = bse.get_polarizability(
                w_w=frequencies, eta=eta, filename=None, write_eig="eig.dat"
            )
            energies, weights = read_bse_eigenvalues("eig.dat")
        finally:
            os.chdir(here)
    return np.asarray(alpha), np.asarray(energies), np.abs(weights)


@instruction("asr.bse", version=0, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = BSE_KPTS,
    ecut: float = 50.0,
    valence_bands: int = 4,
    conduction_bands: int = 4,
    screening_bands: int | str = "400%",
    eshift: float = 0.0,
    eta: float = 0.1,
    omegamax: float = 10.0,
    nfrequencies: int = 1001,
    directions: str | None = None,
) -> BSEResult:
    """BSE and RPA spectra along `directions` (default: xyz, in-plane for 2D).

    The screened interaction uses `screening_bands` bands (GPAW's meaning,
    "400%": four times the occupied ones) and a cutoff of `ecut` eV;
    spectra are broadened by `eta` eV on `nfrequencies` points up to
    `omegamax` eV.
    """
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("asr.bse is for bulk and 2D materials (vacuum along z)")
    if directions is None:
        directions = "xyz" if dim == 3 else "xy"
    if not directions or set(directions) - set("xyz"):
        raise ValueError(f"directions must be made of x, y and z, not {directions!r}")
    wfs = wavefunctions(
        atoms, calculator, kpts=kpts, nbands=screening_bands, occupations=NARROW
    ).result
    if wfs.nocc + conduction_bands > wfs.nbands:
        raise ValueError(
            f"{conduction_bands} conduction bands need more than the "
            f"{wfs.nbands} bands of screening_bands={screening_bands!r}"
        )
    options: dict[str, Any] = {
        "ecut": ecut,
        "valence_bands": valence_bands,
        "conduction_bands": conduction_bands,
        "nbands": wfs.nbands,
        "eshift": eshift or None,
    }
    if dim == 2:
        options.update(truncation="2D", integrate_gamma="reciprocal2D")
    frequencies = np.linspace(0.0, omegamax, nfrequencies)
    gpw = str(wfs.gpw.path)
    alphas: dict[str, list[np.ndarray]] = {"BSE": [], "RPA": []}
    excitations: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in directions:
        for mode in ("BSE", "RPA"):
            alpha, *found = spectrum(
                gpw, mode, "xyz".index(name), frequencies, eta, options
            )
            alphas[mode].append(alpha)
            excitations.setdefault(mode, tuple(found))
    energies, weights = excitations["BSE"]
    order = np.argsort(energies)
    energies, weights = energies[order], weights[order]
    bright = weights > BRIGHT * weights.max()
    e1_bright = float(energies[bright][0])
    # Without electron-hole attraction the excitations are the transitions.
    gap_dir = float(np.min(excitations["RPA"][0]))
    alpha_bse = np.array(alphas["BSE"])
    alpha_rpa = np.array(alphas["RPA"])
    return BSEResult(
        frequencies=frequencies,
        directions=directions,
        alpha_bse=alpha_bse,
        alpha_rpa=alpha_rpa,
        absorption_bse=absorption(alpha_bse, frequencies, dim),
        absorption_rpa=absorption(alpha_rpa, frequencies, dim),
        exciton_energies=energies[:20],
        exciton_weights=weights[:20],
        e1_bse=float(energies[0]),
        e1_bright_bse=e1_bright,
        gap_dir_qp=gap_dir,
        binding_energy_bse=gap_dir - e1_bright,
        eshift=float(eshift),
        dimensionality=dim,
    )
