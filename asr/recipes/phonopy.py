"""Phonon band structure, density of states and dynamical stability (phonopy).

Force constants come from finite displacements (phonopy) of the atoms in a
supercell; each displaced supercell's forces are computed by the helper
instruction ``asr.phonopy.forces``, so an interrupted run keeps the forces it
has. A 2D material (or a 1D wire) is only repeated along its periodic
directions. The unit cell given is used as the primitive cell, so the band
path is the ASE band path of that cell. Phonon energies are in meV;
imaginary frequencies appear as negative energies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from ase import Atoms, units

from asr.core import Result, instruction, key

from .common import (
    DEFAULT_GPAW_FORCES,
    calculator_for,
    dimensionality,
    gpaw_spec_for,
    kpts_for,
)

# Phonopy gives frequencies in THz; h * 1 THz in meV.
THZ_TO_MEV = units._hplanck * 1e12 / units._e * 1e3


@dataclass
class PhonopyResult(Result):
    title = "Phonons"
    supercell: list = field(metadata=key("Repetitions of the cell in the supercell"))
    force_constants: np.ndarray = field(
        metadata=key(
            "Force constants, phonopy's compact form (cell atoms, supercell "
            "atoms, 3, 3)",
            "eV/Å²",
        )
    )
    path_qpoints: np.ndarray = field(
        metadata=key("q-points of the band path (scaled, reciprocal cell)")
    )
    path_x: np.ndarray = field(metadata=key("Position along the band path", "1/Å"))
    special_x: np.ndarray = field(
        metadata=key("Positions of the special points along the path", "1/Å")
    )
    special_labels: list = field(metadata=key("Labels of the special points"))
    band_energies: np.ndarray = field(
        metadata=key("Phonon energies along the path (q-point, band)", "meV")
    )
    dos_energies: np.ndarray = field(metadata=key("Energies of the DOS", "meV"))
    dos: np.ndarray = field(
        metadata=key("Phonon density of states per cell", "states/meV")
    )
    commensurate_qpoints: np.ndarray = field(
        metadata=key("q-points the supercell samples exactly (scaled)")
    )
    commensurate_energies: np.ndarray = field(
        metadata=key("Phonon energies at the commensurate q-points", "meV")
    )
    min_energy: float = field(
        metadata=key(
            "Lowest phonon energy (negative: imaginary frequency)",
            "meV",
            database=True,
        )
    )
    dynamic_stability_phonons: str = field(
        metadata=key(
            "stable if no phonon energy is below -tolerance, else unstable",
            database=True,
            label="Dynamic stability (phonons)",
            priority=60,
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4))
        bands, dos = fig.subplots(
            1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]}
        )
        bands.plot(self.path_x, self.band_energies, color="C0")
        for x in self.special_x:
            bands.axvline(x, color="0.7", lw=0.8)
        bands.axhline(0, color="0.3", lw=0.8)
        bands.set_xticks(*tick_labels(self.special_x, self.special_labels))
        bands.set_xlim(self.path_x[0], self.path_x[-1])
        bands.set_ylabel("phonon energy [meV]")
        dos.plot(self.dos, self.dos_energies, color="C0")
        dos.fill_betweenx(self.dos_energies, 0, self.dos, alpha=0.3)
        dos.set_xlabel("DOS [1/meV]")
        dos.set_xlim(left=0)
        fig.tight_layout()
        path = Path(folder) / "phonons.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["phonons.png"]
        return panel


def tick_labels(xs, labels) -> tuple[list[float], list[str]]:
    """Ticks of the special points; a jump in the path shows as "K|U"."""
    ticks: list[float] = []
    names: list[str] = []
    for x, label in zip(xs, labels):
        label = r"$\Gamma$" if label == "G" else label
        if ticks and np.isclose(x, ticks[-1]):
            names[-1] += "|" + label
        else:
            ticks.append(float(x))
            names.append(label)
    return ticks, names


def supercell_size(
    atoms: Atoms, supercell: tuple | list | None, supercell_length: float
) -> list[int]:
    """Repetitions along each cell vector; 1 along non-periodic directions.

    Without `supercell`: the fewest repetitions that make every periodic
    supercell vector at least `supercell_length` long.
    """
    if supercell is None:
        lengths = atoms.cell.lengths()
        size = [max(1, int(np.ceil(supercell_length / x - 1e-9))) for x in lengths]
    else:
        size = [int(n) for n in supercell]
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"supercell must be 3 positive integers, not {supercell}")
    return [n if periodic else 1 for n, periodic in zip(size, atoms.pbc)]


def make_phonopy(atoms: Atoms, supercell: list[int]):
    """A Phonopy object for `atoms` (used as the primitive cell)."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    magmoms = (
        atoms.get_initial_magnetic_moments() if atoms.has("initial_magmoms") else None
    )
    unitcell = PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=atoms.cell.array,
        scaled_positions=atoms.get_scaled_positions(wrap=False),
        masses=atoms.get_masses(),
        magnetic_moments=magmoms,
    )
    return Phonopy(unitcell, supercell_matrix=np.diag(supercell), primitive_matrix="P")


def to_ase(cell, template: Atoms, unit_index: np.ndarray) -> Atoms:
    """ASE Atoms from a phonopy supercell; `unit_index`: its atoms' originals."""
    atoms = Atoms(
        numbers=cell.numbers,
        cell=cell.cell,
        positions=cell.positions,
        pbc=template.pbc,
        masses=template.get_masses()[unit_index],
    )
    if template.has("initial_magmoms"):
        magmoms = template.get_initial_magnetic_moments()[unit_index]
        atoms.set_initial_magnetic_moments(magmoms)
    return atoms


def unit_cell_index(cell) -> np.ndarray:
    """For each atom of a phonopy supercell: its atom in the unit cell."""
    return np.array([cell.u2u_map[i] for i in cell.s2u_map])


@instruction("asr.phonopy.forces", version=1)
def forces(atoms: Atoms, calculator: dict) -> np.ndarray:
    """Forces on the atoms of one (displaced) supercell, in eV/Å.

    A 2D supercell gets the dipole correction of `asr.gs`
    (`common.gpaw_spec_for`): a polar layer's phonons then come from the
    Hamiltonian of its ground state.
    """
    atoms = atoms.copy()
    atoms.calc = calculator_for(atoms, gpaw_spec_for(atoms, calculator))
    return np.asarray(atoms.get_forces())


@instruction("asr.phonopy", version=1)
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    supercell: tuple | None = None,
    supercell_length: Annotated[float, "Å"] = 10.0,
    displacement: Annotated[float, "Å"] = 0.01,
    tolerance: Annotated[float, "meV"] = 1.0,
    dos_density: Annotated[float, "q-points/Å⁻¹"] = 8.0,
    npoints: Annotated[int, "q-points"] = 200,
) -> PhonopyResult:
    """Phonons by finite displacements of `displacement` Å in a supercell.

    `supercell` (e.g. ``(4, 4, 1)``) defaults to the fewest repetitions
    giving periodic lengths of at least `supercell_length` Å. Stable when no
    phonon energy (band path and commensurate q-points) is below
    `-tolerance` meV. The DOS uses a q-mesh of `dos_density` points per Å⁻¹
    and the band path `npoints` points.
    """
    dim = dimensionality(atoms)
    if dim == 0:
        raise ValueError("phonons need at least one periodic direction")
    size = supercell_size(atoms, supercell, supercell_length)
    phonon = make_phonopy(atoms, size)
    phonon.generate_displacements(distance=displacement)
    template = to_ase(phonon.supercell, atoms, unit_cell_index(phonon.supercell))
    residual = forces(template, calculator).result
    sets = []
    for displaced in phonon.supercells_with_displacements:
        supercell_atoms = template.copy()
        supercell_atoms.positions = displaced.positions
        sets.append(forces(supercell_atoms, calculator).result - residual)
    phonon.forces = np.array(sets)
    phonon.produce_force_constants(
        calculate_full_force_constants=False, show_drift=False
    )
    phonon.symmetrize_force_constants(show_drift=False)

    path = atoms.cell.bandpath(npoints=npoints, pbc=atoms.pbc)
    path_x, special_x, special_labels = path.get_linear_kpoint_axis()
    phonon.run_qpoints(path.kpts)
    band_energies = phonon.qpoints.frequencies * THZ_TO_MEV

    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    commensurate = get_commensurate_points(np.diag(size))
    phonon.run_qpoints(commensurate)
    commensurate_energies = phonon.qpoints.frequencies * THZ_TO_MEV

    mesh = kpts_for(atoms, dos_density)["size"]
    phonon.run_mesh(mesh, is_gamma_center=True)
    # phonopy's default smearing is 1 % of the frequency range, which is
    # zero when all modes are (e.g. one atom in its own cell): then 0.1 THz.
    flat = np.ptp(phonon.mesh.frequencies) < 1e-6
    phonon.run_total_dos(sigma=0.1 if flat else None)
    dos = phonon.total_dos

    min_energy = float(min(band_energies.min(), commensurate_energies.min()))
    return PhonopyResult(
        supercell=size,
        force_constants=np.asarray(phonon.force_constants),
        path_qpoints=np.asarray(path.kpts),
        path_x=np.asarray(path_x),
        special_x=np.asarray(special_x),
        special_labels=list(special_labels),
        band_energies=band_energies,
        dos_energies=dos.frequency_points * THZ_TO_MEV,
        dos=dos.dos / THZ_TO_MEV,
        commensurate_qpoints=commensurate,
        commensurate_energies=commensurate_energies,
        min_energy=min_energy,
        dynamic_stability_phonons="stable" if min_energy > -tolerance else "unstable",
    )
