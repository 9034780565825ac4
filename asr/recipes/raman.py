"""Raman spectrum of zone-centre phonons from electron-phonon coupling (GPAW).

GPAW's Raman method for extended systems (third-order perturbation theory,
Taghizadeh et al., Nat. Commun. 11, 3011 (2020)) needs, all in LCAO mode:

1. the effective potential and the forces of displaced atoms in a supercell
   (`gpaw.elph.DisplacementRunner`), which also give the phonons at Γ;
2. the electron-phonon matrix in the LCAO basis of the supercell
   (`gpaw.elph.Supercell`), then in the Bloch basis of the unit cell at
   q = 0 projected on the phonon modes (`gpaw.elph.ElectronPhononMatrix`);
3. the momentum matrix elements of the unit cell without symmetry
   (`gpaw.lcao.dipoletransition.get_momentum_transitions`);
4. the resonant Raman tensor R^ν_ab for light of energy `laser_energy`
   (`gpaw.elph.ResonantRamanCalculator`).

The Stokes spectrum is made here from the tensor: Gaussian lines of `sigma`
cm⁻¹, each of weight |R^ν|² (n_ν + 1)/ω_ν with the Bose–Einstein occupation
n_ν of mode ν at `temperature` (GPAW's `RamanData.calculate_raman_spectrum`
returns the bare |R^ν|² lines, whatever its temperature).

Since LCAO is the only mode GPAW implements it in, the calculator is an LCAO
specification of its own (no `asr.gs`); a 2D structure gets the dipole
correction of `asr.gs` all the same (`common.gpaw_spec_for`). GPAW's files
stay in a folder ``raman-<hash>`` of the working folder, so an interrupted
run continues.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from ase import Atoms
from ase.units import invcm

from asr.core import Result, instruction, key
from asr.core.migration import Migration, MigrationSelector, Selector

from .common import calculator_for, dimensionality, gpaw_spec_for, kpts_for

RAMAN_LCAO = {
    "name": "gpaw",
    "mode": "lcao",
    "basis": "dzp",
    "xc": "PBE",
    "kpts": {"density": 6.0, "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.02},
    "convergence": {"density": 1e-6},
    "txt": None,
}
POLARIZATIONS = ("xx", "yy", "zz", "xy", "xz", "yz", "yx", "zx", "zy")


@dataclass
class RamanResult(Result):
    title = "Raman spectrum"
    mode_energies: np.ndarray = field(metadata=key("Phonon energies at Γ", "cm⁻¹"))
    raman_tensor: np.ndarray = field(
        metadata=key("Raman tensor R^ν_ab (mode, a, b), complex", "arbitrary")
    )
    mode_intensities: np.ndarray = field(
        metadata=key("Σ_ab |R^ν_ab|² of each mode", "arbitrary")
    )
    shifts: np.ndarray = field(metadata=key("Raman shifts of the spectrum", "cm⁻¹"))
    intensity_parallel: np.ndarray = field(
        metadata=key("Spectrum for parallel polarizations (xx + yy + zz)", "arb.")
    )
    intensity_total: np.ndarray = field(
        metadata=key("Spectrum summed over all nine polarizations", "arb.")
    )
    strongest_mode: float = field(
        metadata=key("Energy of the most intense Raman line", "cm⁻¹", database=True)
    )
    laser_energy: float = field(metadata=key("Energy of the laser light", "eV"))
    temperature: float = field(
        metadata=key("Temperature of the phonon occupations in the spectra", "K")
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        top = max(self.intensity_total.max(), 1e-300)
        ax.plot(self.shifts, self.intensity_total / top, label="all polarizations")
        ax.plot(
            self.shifts,
            self.intensity_parallel / top,
            ls="--",
            label="parallel (xx+yy+zz)",
        )
        ax.set_xlabel("Raman shift [cm⁻¹]")
        ax.set_ylabel("intensity [arb. units]")
        ax.set_xlim(self.shifts[0], self.shifts[-1])
        ax.set_ylim(bottom=0)
        ax.set_title(f"laser {self.laser_energy:.2f} eV")
        ax.legend()
        fig.tight_layout()
        path = Path(folder) / "raman.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["raman.png"]
        return panel


def stokes_spectrum(
    shifts: np.ndarray,
    modes: np.ndarray,
    weights: np.ndarray,
    temperature: float,
    sigma: float,
) -> np.ndarray:
    """Stokes spectrum on `shifts` (cm⁻¹) of lines at `modes` (cm⁻¹).

    Each line is a Gaussian of standard deviation `sigma` (cm⁻¹) with area
    weight (n + 1)/ω: a Stokes line scatters into one more phonon, and the
    Bose–Einstein occupation n = 1/(exp(ħω/kT) - 1) at `temperature` (K)
    stimulates it. Modes at or below 1 cm⁻¹ (the acoustic ones) are left out.
    """
    from ase.units import kB

    if temperature < 0:
        raise ValueError(f"temperature must be 0 K or more, not {temperature}")
    spectrum = np.zeros(len(shifts))
    for omega, weight in zip(modes, weights, strict=True):
        if omega <= 1.0:
            continue
        energy = omega * invcm  # eV
        n = 0.0 if temperature == 0 else 1 / np.expm1(energy / (kB * temperature))
        line = np.exp(-((shifts - omega) ** 2) / (2 * sigma**2))
        spectrum += weight * (n + 1) / energy * line / (np.sqrt(2 * np.pi) * sigma)
    return spectrum


def spectra(result, temperature: float, sigma: float) -> dict[str, np.ndarray]:
    """The parallel (xx+yy+zz) and total Stokes spectra of a Raman tensor."""
    r2 = np.abs(result.raman_tensor) ** 2
    parallel = r2[:, [0, 1, 2], [0, 1, 2]].sum(axis=1)
    return {
        "intensity_parallel": stokes_spectrum(
            result.shifts, result.mode_energies, parallel, temperature, sigma
        ),
        "intensity_total": stokes_spectrum(
            result.shifts, result.mode_energies, r2.sum(axis=(1, 2)), temperature, sigma
        ),
    }


def bose_weighted(record):
    """Version 0's spectra were bare |R|² lines: weight them from the tensor."""
    from asr.store import Tagged

    result = record.result
    if isinstance(result, Tagged):  # stored without `temperature`
        result = RamanResult(**result.data, temperature=0.0)
    temperature = float(record.arguments.get("temperature", 300.0))
    sigma = float(record.arguments.get("sigma", 5.0))
    result = replace(result, temperature=temperature)
    record.result = replace(result, **spectra(result, temperature, sigma))
    record.version = 1
    return record


class _InFolder:
    """Work inside `folder` (GPAW's caches use names relative to it)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.previous = os.getcwd()
        os.chdir(self.folder)

    def __exit__(self, *exc):
        os.chdir(self.previous)


def gpaw_parameters(atoms: Atoms, calculator: dict) -> dict[str, Any]:
    """GPAW keywords of an LCAO specification, with the k-points of `atoms`
    and, for a 2D structure, the dipole correction of `asr.gs`
    (`common.gpaw_spec_for`)."""
    spec = gpaw_spec_for(atoms, calculator)
    params = {k: v for k, v in spec.items() if k != "name"}
    kpts = params.get("kpts")
    if isinstance(kpts, dict) and "density" in kpts:
        params["kpts"] = kpts_for(atoms, kpts["density"], kpts.get("gamma", True))
    return params


def check_lcao(calculator: dict) -> None:
    mode = calculator.get("mode")
    name = mode.get("name") if isinstance(mode, dict) else mode
    if str(calculator.get("name", "")).lower() != "gpaw" or name != "lcao":
        raise ValueError(
            "GPAW implements this Raman method in LCAO mode only: use a GPAW "
            "calculator with mode 'lcao' (e.g. asr.recipes.raman.RAMAN_LCAO)"
        )


MIGRATIONS = [
    MigrationSelector(
        # 2D structures now get the dipole correction: recomputed, not migrated.
        Selector(
            name="asr.raman",
            version=0,
            predicate=lambda record: dimensionality(record.arguments["atoms"]) != 2,
        ),
        Migration(
            "asr.raman:0-1",
            "Spectra weighted by the Bose-Einstein occupation (n+1)/ω",
            bose_weighted,
        ),
    )
]


@instruction("asr.raman", version=1, packages=("gpaw",), migrations=MIGRATIONS)
def main(
    atoms: Atoms,
    calculator: dict = RAMAN_LCAO,
    supercell: tuple = (2, 2, 2),
    displacement: float = 0.01,
    laser_energy: float = 2.33,
    gamma: float = 0.1,
    sigma: float = 5.0,
    temperature: Annotated[float, "K"] = 300.0,
) -> RamanResult:
    """Resonant Raman spectrum for a laser of `laser_energy` eV (532 nm).

    The potential derivatives come from displacements of `displacement` Å in
    a `supercell` (repetitions; 1 along non-periodic directions);
    `gamma` (eV) broadens the electronic transitions; the Stokes lines are
    Gaussians of `sigma` cm⁻¹ weighted by the phonon occupations at
    `temperature`.
    """
    from gpaw import GPAW
    from gpaw.elph import (
        DisplacementRunner,
        ElectronPhononMatrix,
        RamanData,
        ResonantRamanCalculator,
        Supercell,
    )
    from gpaw.lcao.dipoletransition import get_momentum_transitions

    check_lcao(calculator)
    if dimensionality(atoms) == 0:
        raise ValueError("asr.raman is for periodic materials (phonons at Γ)")
    supercell = tuple(
        int(n) if periodic else 1
        for n, periodic in zip(supercell, atoms.pbc, strict=True)
    )
    # GPAW's files of a 2D structure belong to its dipole-corrected spec.
    terms = main.terms(
        {
            "atoms": atoms,
            "calculator": gpaw_spec_for(atoms, calculator),
            "supercell": supercell,
            "displacement": displacement,
        }
    )
    folder = Path(f"raman-{terms.exact.hex()[:16]}").resolve()
    large = atoms.repeat(supercell)
    large_params = gpaw_parameters(large, calculator)
    params = gpaw_parameters(atoms, calculator)
    quiet = io.StringIO()
    with _InFolder(folder), redirect_stdout(quiet):
        # 1. Potentials and forces of displaced atoms in the supercell.
        runner = DisplacementRunner(
            atoms=atoms,
            calc=calculator_for(
                large,
                {
                    **gpaw_spec_for(large, calculator),
                    "symmetry": {"point_group": False},
                },
            ),
            supercell=supercell,
            name="elph",
            delta=displacement,
            calculate_forces=True,
        )
        runner.run()
        # 2. Electron-phonon matrix in the LCAO basis of the supercell.
        cell = Supercell(atoms, supercell_name="supercell", supercell=supercell)
        cell.calculate_supercell_matrix(
            {
                key: large_params[key]
                for key in ("basis", "kpts", "xc", "occupations")
                if key in large_params
            }
            | {"txt": None},
            fd_name="elph",
        )
        # 3. Unit cell without symmetry: momentum and Bloch matrices.
        calc = GPAW(**{**params, "symmetry": "off"}, legacy_gpaw=True)
        unit = atoms.copy()
        unit.calc = calc
        unit.get_potential_energy()
        get_momentum_transitions(calc.wfs, savetofile=True)
        elph = ElectronPhononMatrix(atoms, "supercell", "elph")
        # The acoustic modes' (near zero, maybe negative) energies make NaN
        # prefactors; GPAW then sets their couplings to zero.
        with np.errstate(invalid="ignore", divide="ignore"):
            elph.bloch_matrix(calc, k_qc=np.zeros((1, 3)), savetofile=True)
        energies = np.asarray(elph.phonon.band_structure([[0, 0, 0]])[0])
        # 4. Raman tensor and spectrum.
        raman = ResonantRamanCalculator(calc, energies)
        raman.calculate_raman_tensor(laser_energy, gamma_l=gamma)
        tensor = np.zeros((len(energies), 3, 3), complex)
        for pol in POLARIZATIONS:
            tensor[:, "xyz".index(pol[0]), "xyz".index(pol[1])] = raman.raman_cache[pol]
        grid = RamanData(raman_name="Rlab").gridev_w  # GPAW's grid, 1 cm⁻¹
    intensities = (np.abs(tensor) ** 2).sum(axis=(1, 2))
    modes = energies / invcm
    result = RamanResult(
        mode_energies=modes,
        raman_tensor=tensor,
        mode_intensities=intensities,
        shifts=np.asarray(grid) / invcm,
        intensity_parallel=np.zeros(len(grid)),
        intensity_total=np.zeros(len(grid)),
        strongest_mode=float(modes[int(np.argmax(intensities))]),
        laser_energy=float(laser_energy),
        temperature=float(temperature),
    )
    return replace(result, **spectra(result, temperature, sigma))
