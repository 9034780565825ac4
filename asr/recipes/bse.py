"""Optical absorption with the Bethe-Salpeter equation and in the RPA.

GPAW's `gpaw.response.bse.BSE` builds the two-particle Hamiltonian of the
bands within `window` eV of the band edges (below the valence band maximum,
above the conduction band minimum) on PBE wave functions (`asr.wavefunctions`,
Γ-centred grid), with the statically screened interaction W
(`screening_bands` bands, cutoff `ecut`). An energy window, not a fixed
number of bands, keeps the same transitions whatever the number of atoms.
With `soc` (the default, as the C2DB) the bands are spinors with spin-orbit
coupling added non-selfconsistently, with the spins along the material's
spin axis (`asr.recipes.spinaxis`): without it the A/B exciton splitting of
transition-metal dichalcogenides is missing.
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
from typing import Annotated, Any

import numpy as np
from ase import Atoms
from ase.units import _c, _e, _hbar

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .spinaxis import spin_axis
from .wavefunctions import main as wavefunctions

BSE_KPTS = {"density": 12.0, "gamma": True}
# The BSE needs completely filled valence and empty conduction bands.
NARROW = {"name": "fermi-dirac", "width": 1e-4}
# ħc in eV·Å: ω/c in 1/Å for ħω in eV.
HBAR_C = _hbar * _c / _e * 1e10
# Bands reaching within this many eV of the band edges enter the BSE: enough
# for the A, B and C excitons of the transition-metal dichalcogenides (within
# ~1 eV of their direct gap) with a margin.
WINDOW = 2.0
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
    soc: bool = field(metadata=key("Whether the bands include spin-orbit coupling"))
    window: float = field(
        metadata=key("Energy window of the bands around the band edges", "eV")
    )
    valence_bands: int = field(
        metadata=key("Number of valence bands in the BSE (spinors with SOC)")
    )
    conduction_bands: int = field(
        metadata=key("Number of conduction bands in the BSE (spinors with SOC)")
    )
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


def band_window(e_kn: np.ndarray, nocc: int, window: float) -> tuple[int, int]:
    """Numbers of valence and conduction bands reaching within `window` eV of
    the valence band maximum and conduction band minimum.

    `e_kn` (k-point, band) is sorted at each k-point and its first `nocc`
    bands are occupied, so the bands found are the top valence and bottom
    conduction ones, as GPAW's BSE counts them.
    """
    if not 0 < nocc < e_kn.shape[1]:
        raise ValueError(f"{nocc} occupied of {e_kn.shape[1]} bands: no gap")
    top = e_kn[:, :nocc].max(axis=0)
    bottom = e_kn[:, nocc:].min(axis=0)
    nv = int(np.sum(top >= top.max() - window))
    nc = int(np.sum(bottom <= bottom.min() + window))
    return nv, nc


def bse_bands(calc, nbands: int, soc: bool, axis: tuple[float, float]):
    """Band energies (k-point, band) as GPAW's BSE sees them, and how many are
    occupied: spinors with SOC (and in a spin-polarized state, where GPAW's
    BSE uses spinors without SOC), spatial bands otherwise.
    """
    nvalence = calc.get_number_of_electrons()
    if soc or calc.get_number_of_spins() == 2:
        from gpaw.spinorbit import soc_eigenstates

        theta, phi = axis
        states = soc_eigenstates(
            calc, n2=nbands, scale=1.0 if soc else 0.0, theta=theta, phi=phi
        )
        return states.eigenvalues(), round(nvalence)
    nk = len(calc.get_ibz_k_points())
    e_kn = np.array([calc.get_eigenvalues(kpt=k)[:nbands] for k in range(nk)])
    return e_kn, round(nvalence / 2)


def bse_class(axis: tuple[float, float]):
    """GPAW's BSE, with SOC for spins along `axis` (θ, φ in degrees).

    GPAW's BSE adds SOC with the spins along z and takes no axis; for a
    magnet whose easy axis is another one the spinors are made here with
    that axis (the same call GPAW makes, plus θ and φ).
    """
    from gpaw.response.bse import BSE, SpinorData

    if axis == (0.0, 0.0):
        return BSE
    from ase.units import Hartree

    theta, phi = axis

    class AxisBSE(BSE):
        def _spinordata(self, soc_tol):
            n2 = np.min([self.con_m[-1], self.nbands])
            soc = self.gs.soc_eigenstates(n2=n2, scale=self.scale, theta=theta, phi=phi)
            f_km = np.array([wf.f_m for wf in soc])
            e_km = soc.eigenvalues() / Hartree
            return SpinorData(
                self.con_m, self.val_m, e_km, f_km, soc.eigenvectors(), soc_tol
            )

    return AxisBSE


def spectrum(gpw: str, mode: str, direction: int, frequencies, eta, options, axis):
    """Polarizability along `direction` and the excitations (energies, weights).

    GPAW's BSE writes log files (pair.txt, chi0.txt, w.txt) into the working
    folder: it runs in a scratch folder instead.
    """
    from gpaw.response.bse import read_bse_eigenvalues

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            bse = bse_class(axis)(
                gpw, mode=mode, direction=direction, txt=None, **options
            )
            _, alpha = bse.get_polarizability(
                w_w=frequencies, eta=eta, filename=None, write_eig="eig.dat"
            )
            energies, weights = read_bse_eigenvalues("eig.dat")
        finally:
            os.chdir(here)
    return np.asarray(alpha), np.asarray(energies), np.abs(weights)


@instruction("asr.bse", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = BSE_KPTS,
    ecut: float = 50.0,
    window: Annotated[float, "eV"] = WINDOW,
    soc: bool = True,
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
    `omegamax` eV. The bands are those within `window` eV of the band edges,
    spinors with spin-orbit coupling when `soc`.
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
    from gpaw import GPAW

    axis = spin_axis(atoms, calculator) if soc else (0.0, 0.0)
    e_kn, nocc = bse_bands(GPAW(wfs.gpw.path, txt=None), wfs.nbands, soc, axis)
    valence_bands, conduction_bands = band_window(e_kn, nocc, window)
    if nocc + conduction_bands >= e_kn.shape[1]:
        raise ValueError(
            f"the {window} eV window above the conduction band minimum reaches "
            f"the highest of the {wfs.nbands} bands of "
            f"screening_bands={screening_bands!r}: raise it or lower window"
        )
    options: dict[str, Any] = {
        "ecut": ecut,
        "valence_bands": valence_bands,
        "conduction_bands": conduction_bands,
        "nbands": wfs.nbands,
        "eshift": eshift or None,
        "add_soc": soc,
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
                gpw, mode, "xyz".index(name), frequencies, eta, options, axis
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
        soc=soc,
        window=float(window),
        valence_bands=valence_bands,
        conduction_bands=conduction_bands,
        dimensionality=dim,
    )
