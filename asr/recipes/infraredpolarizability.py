"""Infrared polarizability of the lattice from Born charges and Γ-point phonons.

The phonons at Γ come from `asr.phonopy` (by default in the unit cell
itself, which gives the Γ-point force constants exactly) and the Born
charges Z_a from `asr.borncharges`. Each mode m of energy ħω_m and
eigenvector e_m (normalised, mass-weighted) has the mode effective charge
p_m = Σ_a Z_a e_m,a / √M_a, and the lattice polarizability is

    α_ij(ω) = e²/(4πε₀) Σ_m p_m,i p_m,j / (V (ω_m² - ω² - iγω)),

with the same convention as `asr.polarizability` (ε = 1 + 4πα for bulk,
dimensionless; times the cell height for a 2D material, Å). Optionally the
static electronic polarizability of `asr.polarizability` is added to give
the total static values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from asr.core import Result, instruction, key

from .borncharges import main as borncharges
from .common import DEFAULT_GPAW, DEFAULT_GPAW_FORCES, dimensionality
from .formalpolarization import (
    POLARIZATION_KPTS,
    TIGHT_CONVERGENCE,
    nonperiodic_measure,
)
from .phonopy import THZ_TO_MEV, make_phonopy
from .phonopy import main as phonopy

# e²/(4πε₀) in eV·Å, and ħ in eV times ASE's unit of time.
COULOMB = units.Hartree * units.Bohr
HBAR = units._hbar * units.J * units.s
# Modes below this energy (meV) are the acoustic ones at Γ.
ACOUSTIC = 1.0


@dataclass
class InfraredPolarizabilityResult(Result):
    title = "Infrared polarizability"
    frequencies: np.ndarray = field(metadata=key("Frequencies ħω", "meV"))
    alpha_wvv: np.ndarray = field(
        metadata=key(
            "Lattice polarizability tensor (frequency, i, j), complex",
            "1 (bulk), Å (2D)",
        )
    )
    mode_energies: np.ndarray = field(metadata=key("Phonon energies at Γ", "meV"))
    mode_charges: np.ndarray = field(
        metadata=key("Mode effective charges p_m (mode, axis)", "e/√amu")
    )
    ir_intensities: np.ndarray = field(
        metadata=key("Infrared intensity |p_m|² of each mode", "e²/amu")
    )
    alphax_lat: float = field(
        metadata=key("Static lattice polarizability along x", "1 or Å", database=True)
    )
    alphay_lat: float = field(
        metadata=key("Static lattice polarizability along y", "1 or Å", database=True)
    )
    alphaz_lat: float = field(
        metadata=key("Static lattice polarizability along z", "1 or Å", database=True)
    )
    alphax: float | None = field(
        metadata=key(
            "Static total (lattice + electronic) polarizability along x (None "
            "without the electronic part)",
            "1 or Å",
            database=True,
        )
    )
    alphay: float | None = field(
        metadata=key("Static total polarizability along y", "1 or Å", database=True)
    )
    alphaz: float | None = field(
        metadata=key("Static total polarizability along z", "1 or Å", database=True)
    )
    eta: float = field(metadata=key("Broadening γ", "meV"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.2))
        axes = fig.subplots(1, 3, sharey=True)
        w = self.frequencies
        for i, (ax, name) in enumerate(zip(axes, "xyz")):
            alpha = self.alpha_wvv[:, i, i]
            ax.plot(w, alpha.real, color="C0", label="Re α")
            ax.plot(w, alpha.imag, color="C1", label="Im α")
            for energy in self.mode_energies[self.ir_intensities > 0]:
                ax.axvline(energy, color="0.7", ls=":", lw=0.8)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_xlim(w[0], w[-1])
            ax.set_xlabel("ħω [meV]")
            ax.set_title(f"{name}{name}")
        axes[0].set_ylabel("lattice polarizability")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        path = Path(folder) / "infraredpolarizability.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["infraredpolarizability.png"]
        return panel


def gamma_modes(
    atoms: Atoms, force_constants: np.ndarray, supercell: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Phonon energies (meV) and eigenvectors (mode, atom, axis) at Γ."""
    phonon = make_phonopy(atoms, supercell)
    phonon.force_constants = force_constants
    phonon.run_qpoints([[0, 0, 0]], with_eigenvectors=True)
    frequencies = phonon.qpoints.frequencies[0]
    vectors = phonon.qpoints.eigenvectors[0]  # columns: modes
    return frequencies * THZ_TO_MEV, vectors.T.reshape(-1, len(atoms), 3)


def mode_charges(
    born: np.ndarray, vectors: np.ndarray, masses: np.ndarray
) -> np.ndarray:
    """p_m,i = Σ_a,j Z_a,ij e_m,a,j / √M_a (e/√amu)."""
    return np.einsum("aij,maj->mi", born, vectors / np.sqrt(masses)[None, :, None])


def lattice_polarizability(
    charges: np.ndarray,
    energies: np.ndarray,
    frequencies: np.ndarray,
    eta: float,
    measure: float,
) -> np.ndarray:
    """α(ω) (frequency, i, j) for mode charges and energies in meV; `measure`
    is the cell volume over the non-periodic length (Å³ or Å²)."""
    # Modes without a charge (the acoustic ones at Γ) add nothing; left in,
    # a mode of exactly zero energy would make 0/0 at ω = 0.
    active = np.abs(charges).sum(axis=1) > 0
    charges, energies = charges[active], energies[active]
    omega_m = np.abs(energies) * 1e-3 / HBAR
    omega_w = np.asarray(frequencies) * 1e-3 / HBAR
    gamma = eta * 1e-3 / HBAR
    strength = np.einsum("mi,mj->mij", charges, charges.conj()).real
    denominator = (
        omega_m[None, :] ** 2 - omega_w[:, None] ** 2 - 1j * gamma * omega_w[:, None]
    )
    return COULOMB / measure * np.einsum("mij,wm->wij", strength, 1 / denominator)


@instruction("asr.infraredpolarizability", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = POLARIZATION_KPTS,
    phonon_calculator: dict = DEFAULT_GPAW_FORCES,
    supercell: tuple = (1, 1, 1),
    displacement: float = 0.01,
    eta: float = 1.0,
    nfrequencies: int = 1001,
    electronic: dict | None = None,
    convergence: dict = TIGHT_CONVERGENCE,
) -> InfraredPolarizabilityResult:
    """Lattice polarizability from Born charges and the phonons at Γ.

    `calculator`, `kpts` and `convergence` give the Born charges
    (`asr.borncharges`),
    `phonon_calculator` and `supercell` the phonons (`asr.phonopy`), both
    with displacements of `displacement` Å. The spectrum is broadened by
    `eta` meV on `nfrequencies` points up to 1.5 times the highest phonon.
    `electronic` (keyword arguments of `asr.polarizability`, e.g. ``{}``)
    adds the static electronic polarizability to the totals.
    """
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("asr.infraredpolarizability needs a bulk or 2D material")
    born = borncharges(atoms, calculator, kpts, displacement, convergence).result
    phonons = phonopy(
        atoms,
        calculator=phonon_calculator,
        supercell=tuple(supercell),
        displacement=displacement,
    ).result
    energies, vectors = gamma_modes(atoms, phonons.force_constants, phonons.supercell)
    charges = mode_charges(born.Z_avv, vectors, atoms.get_masses())
    charges[np.abs(energies) < ACOUSTIC] = 0.0
    frequencies = np.linspace(0.0, 1.5 * float(energies.max()), nfrequencies)
    measure = abs(atoms.cell.volume) / nonperiodic_measure(atoms)
    alpha = lattice_polarizability(charges, energies, frequencies, eta, measure)
    static = np.diag(alpha[0].real)
    totals: list[float | None] = [None, None, None]
    if electronic is not None:
        from .polarizability import main as polarizability

        optics = polarizability(atoms, calculator, **electronic).result
        totals = [
            float(static[i] + getattr(optics, f"alpha{name}_el"))
            for i, name in enumerate("xyz")
        ]
    return InfraredPolarizabilityResult(
        frequencies=frequencies,
        alpha_wvv=alpha,
        mode_energies=energies,
        mode_charges=charges,
        ir_intensities=(np.abs(charges) ** 2).sum(axis=1),
        alphax_lat=float(static[0]),
        alphay_lat=float(static[1]),
        alphaz_lat=float(static[2]),
        alphax=totals[0],
        alphay=totals[1],
        alphaz=totals[2],
        eta=float(eta),
    )
