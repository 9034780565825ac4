"""Ground state: GPAW energy, forces, stress, Fermi level, gaps and vacuum levels.

One self-consistent GPAW calculation (two for a non-magnetic structure given
without moments: see below). Its .gpw file (density, eigenvalues
and PAW projections; no wave functions) is kept in the store and returned as
the `gpw` key, so later recipes (band structure, DOS, ...) start from it::

    gpw = asr.recipes.gs.main(atoms, calculator).result.gpw.path

2D materials (periodic along x and y, vacuum along z) get GPAW's dipole
correction along z, unless the calculator specification names its own
Poisson solver; their vacuum levels come from the planar average of the
electrostatic potential on both sides of the layer, and their work function
from the Fermi level with spin-orbit coupling. A structure without
initial magnetic moments starts ferromagnetic and is kept spin-paired when
its moments vanish (`asr.recipes.magnetism`). Band gaps are given
without and with spin-orbit coupling (`gpaw.spinorbit.soc_eigenstates`, spins
along the easy axis of a magnet, along z otherwise: `asr.recipes.spinaxis`).
All energies are in GPAW's reference: subtract `vacuum_level` to put them on
an absolute scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import File, Result, instruction, key
from asr.core.migration import Migration, MigrationSelector, Selector

from .common import (
    DEFAULT_GPAW,
    calculator_for,
    check_2d,
    dimensionality,
    gpaw_spec_for,
)
from .magnetism import moments_vanished, starting_moments
from .spinaxis import AXES, easy_axis_of

# Width (Å) of GPAW's dipole layer at the cell boundary along z; the vacuum
# level is read at least this far from the boundary.
DIPOLE_LAYER_WIDTH = 1.0


@dataclass
class BandEdges:
    """Band gaps and the band extrema that make them (None: a metal)."""

    gap: float
    gap_dir: float
    vbm: float | None
    cbm: float | None
    k_vbm: np.ndarray | None
    k_cbm: np.ndarray | None
    k_dir: np.ndarray | None
    skn_vbm: tuple[int, int, int] | None
    skn_cbm: tuple[int, int, int] | None


@dataclass
class GroundStateResult(Result):
    title = "Ground state"
    energy: float = field(
        metadata=key(
            "Total energy (extrapolated to zero electronic temperature)",
            "eV",
            database=True,
        )
    )
    forces: np.ndarray = field(metadata=key("Forces on the atoms", "eV/Å"))
    stress: np.ndarray | None = field(
        metadata=key(
            "Stress (Voigt order xx, yy, zz, yz, xz, xy); None unless plane "
            "waves and a periodic direction",
            "eV/Å³",
        )
    )
    stress_2d: np.ndarray | None = field(
        metadata=key(
            "In-plane stress of a 2D material (xx, yy, xy): the stress times "
            "the cell height; None unless 2D",
            "eV/Å²",
        )
    )
    efermi: float = field(metadata=key("Fermi level", "eV", database=True))
    gap: float = field(
        metadata=key(
            "Band gap without spin-orbit coupling",
            "eV",
            database=True,
            label="Band gap (no SOC)",
            priority=80,
        )
    )
    gap_dir: float = field(
        metadata=key("Direct band gap without spin-orbit coupling", "eV", database=True)
    )
    vbm: float | None = field(
        metadata=key("Valence band maximum (None: a metal)", "eV", database=True)
    )
    cbm: float | None = field(
        metadata=key("Conduction band minimum (None: a metal)", "eV", database=True)
    )
    k_vbm: np.ndarray | None = field(
        metadata=key("k-point of the VBM, in scaled coordinates of the IBZ")
    )
    k_cbm: np.ndarray | None = field(
        metadata=key("k-point of the CBM, in scaled coordinates of the IBZ")
    )
    k_dir: np.ndarray | None = field(
        metadata=key("k-point of the direct gap, in scaled coordinates of the IBZ")
    )
    skn_vbm: tuple | None = field(
        metadata=key("(spin, IBZ k-point index, band index) of the VBM")
    )
    skn_cbm: tuple | None = field(
        metadata=key("(spin, IBZ k-point index, band index) of the CBM")
    )
    efermi_soc: float = field(
        metadata=key("Fermi level with spin-orbit coupling", "eV", database=True)
    )
    gap_soc: float = field(
        metadata=key(
            "Band gap with spin-orbit coupling",
            "eV",
            database=True,
            label="Band gap (SOC)",
            priority=20,
        )
    )
    gap_dir_soc: float = field(
        metadata=key(
            "Direct band gap with spin-orbit coupling",
            "eV",
            database=True,
            label="Direct gap (SOC)",
            priority=85,
        )
    )
    vbm_soc: float | None = field(
        metadata=key("Valence band maximum with spin-orbit coupling", "eV")
    )
    cbm_soc: float | None = field(
        metadata=key("Conduction band minimum with spin-orbit coupling", "eV")
    )
    k_vbm_soc: np.ndarray | None = field(
        metadata=key("k-point of the VBM with spin-orbit coupling (full BZ, scaled)")
    )
    k_cbm_soc: np.ndarray | None = field(
        metadata=key("k-point of the CBM with spin-orbit coupling (full BZ, scaled)")
    )
    vacuum_level: float | None = field(
        metadata=key(
            "Vacuum level: mean of both sides for 2D, of the cell faces for "
            "0D and 1D; None for bulk",
            "eV",
            database=True,
        )
    )
    vacuum_level_bottom: float | None = field(
        metadata=key("Vacuum level below a 2D layer (small z)", "eV")
    )
    vacuum_level_top: float | None = field(
        metadata=key("Vacuum level above a 2D layer (large z)", "eV")
    )
    work_function: float | None = field(
        metadata=key(
            "Work function of a 2D material: vacuum level minus the Fermi "
            "level with spin-orbit coupling",
            "eV",
            database=True,
            label="Work function",
            priority=90,
        )
    )
    z: np.ndarray | None = field(
        metadata=key("Heights of the electrostatic potential profile (2D)", "Å")
    )
    potential_z: np.ndarray | None = field(
        metadata=key("Electrostatic potential averaged over the xy-plane (2D)", "eV")
    )
    spin_polarized: bool = field(
        metadata=key("Whether the calculation was spin-polarized", database=True)
    )
    magmom: float = field(
        metadata=key(
            "Total magnetic moment of the cell",
            "μB",
            database=True,
            label="Magnetic moment",
            digits=2,
        )
    )
    magmoms: np.ndarray = field(metadata=key("Magnetic moment of each atom", "μB"))
    gpw: File = field(metadata=key("GPAW restart file (.gpw) of the ground state"))

    def figures(self, folder: Path) -> list[Path]:
        if self.potential_z is None or self.z is None:
            return []
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        ax.plot(self.z, self.potential_z, label="electrostatic potential")
        ax.axhline(self.efermi, color="C1", ls="--", label="Fermi level")
        if self.vacuum_level_bottom is not None:
            ax.axhline(self.vacuum_level_bottom, color="C2", ls=":", label="vacuum")
            ax.axhline(self.vacuum_level_top, color="C2", ls=":")
        ax.set_xlabel("z [Å]")
        ax.set_ylabel("potential [eV]")
        ax.set_xlim(self.z[0], self.z[-1])
        ax.legend(loc="lower left")
        fig.tight_layout()
        path = Path(folder) / "gs-potential.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        if self.potential_z is not None:
            panel["figures"] = ["gs-potential.png"]
        return panel


# -- helpers (no GPAW run needed) ---------------------------------------------


def gs_spec(atoms: Atoms, calculator: dict[str, Any]) -> dict[str, Any]:
    """The GPAW specification for `atoms`: a dipole correction for 2D."""
    if calculator.get("name", "").lower() != "gpaw":
        raise ValueError(
            f"asr.gs needs a GPAW calculator, not {calculator.get('name')!r}: "
            "use {'name': 'gpaw', ...}"
        )
    return gpaw_spec_for(atoms, calculator)


def mode_name(spec: dict[str, Any]) -> str:
    """'pw', 'lcao' or 'fd' (GPAW's default mode is 'fd')."""
    mode = spec.get("mode", "fd")
    name = mode.get("name", "fd") if isinstance(mode, dict) else str(mode)
    return name.lower()


def band_edges(eigenvalues: np.ndarray, efermi: float, kpts: np.ndarray) -> BandEdges:
    """Gaps and band extrema from eigenvalues of shape (spins, k-points, bands).

    `kpts` are the scaled coordinates of the k-points; a gap is zero when a
    band crosses the Fermi level (a metal), and the extrema are then None.
    """
    from ase.dft.bandgap import bandgap

    e_skn = np.asarray(eigenvalues, dtype=float)
    gap, skn1, skn2 = bandgap(eigenvalues=e_skn, efermi=efermi)
    gap_dir, skn_dir, _ = bandgap(eigenvalues=e_skn, efermi=efermi, direct=True)
    if skn1[0] is None:
        return BandEdges(0.0, 0.0, None, None, None, None, None, None, None)
    skn_vbm = tuple(int(i) for i in skn1)
    skn_cbm = tuple(int(i) for i in skn2)
    return BandEdges(
        gap=float(gap),
        gap_dir=float(gap_dir),
        vbm=float(e_skn[skn_vbm]),
        cbm=float(e_skn[skn_cbm]),
        k_vbm=np.array(kpts[skn_vbm[1]], dtype=float),
        k_cbm=np.array(kpts[skn_cbm[1]], dtype=float),
        k_dir=np.array(kpts[int(skn_dir[1])], dtype=float),
        skn_vbm=skn_vbm,
        skn_cbm=skn_cbm,
    )


def vacuum_levels_2d(
    potential_z: np.ndarray, height: float, atoms_z: np.ndarray
) -> tuple[float, float]:
    """The vacuum levels below and above a layer from its potential profile.

    `potential_z` is sampled on a uniform grid over [0, `height`); the layer
    must lie inside the cell, away from z = 0 where the dipole layer sits.
    Each level is read in the vacuum, at most `DIPOLE_LAYER_WIDTH` from the
    cell boundary (where the vacuum is flattest) and at least half way there
    from the atoms.
    """
    atoms_z = np.asarray(atoms_z, dtype=float)
    lowest, highest = float(atoms_z.min()), float(atoms_z.max())
    if lowest <= 0.0 or highest >= height:
        raise ValueError(
            "the 2D layer crosses the cell boundary along z: centre it first "
            "(atoms.center(axis=2))"
        )
    z_bottom = min(DIPOLE_LAYER_WIDTH, lowest / 2)
    z_top = max(height - DIPOLE_LAYER_WIDTH, (highest + height) / 2)
    n = len(potential_z)
    spacing = height / n

    def at(z: float) -> float:
        return float(potential_z[int(round(z / spacing)) % n])

    return at(z_bottom), at(z_top)


def boundary_potential(potential: np.ndarray, pbc) -> float:
    """Mean electrostatic potential on the cell faces of non-periodic axes."""
    faces = [
        np.take(potential, 0, axis=c).mean()
        for c, periodic in enumerate(pbc)
        if not periodic
    ]
    return float(np.mean(faces))


def stress_in_plane(stress: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """(xx, yy, xy) of a 2D material's stress, times the cell height (eV/Å²)."""
    height = abs(float(np.asarray(cell)[2, 2]))
    return np.asarray(stress, dtype=float)[[0, 1, 5]] * height


# -- helpers that read a GPAW calculator --------------------------------------


def gpaw_eigenvalues(calc) -> np.ndarray:
    """Eigenvalues of shape (spins, IBZ k-points, bands) in eV."""
    nk = len(calc.get_ibz_k_points())
    return np.array(
        [
            [calc.get_eigenvalues(kpt=k, spin=s) for k in range(nk)]
            for s in range(calc.get_number_of_spins())
        ]
    )


def soc_band_edges(
    calc, theta: float = 0.0, phi: float = 0.0
) -> tuple[BandEdges, float]:
    """Band edges and Fermi level with spin-orbit coupling (spins along θ, φ)."""
    from gpaw.spinorbit import soc_eigenstates

    soc = soc_eigenstates(calc, theta=theta, phi=phi)
    eigenvalues = soc.eigenvalues()[np.newaxis]
    efermi = float(soc.fermi_level)
    return band_edges(eigenvalues, efermi, calc.get_bz_k_points()), efermi


def magnetic_moments(calc) -> tuple[bool, float, np.ndarray]:
    """Whether spin-polarized, the total moment and the moment of each atom."""
    natoms = len(calc.get_atoms())
    if calc.get_number_of_spins() == 1:
        return False, 0.0, np.zeros(natoms)
    return (
        True,
        float(calc.get_magnetic_moment()),
        np.asarray(calc.get_magnetic_moments(), dtype=float),
    )


def gpw_name(atoms: Atoms, calculator: dict[str, Any], magnetic: bool | None) -> str:
    """``gs-<hash>.gpw``: different calls in one folder never share a file."""
    terms = main.terms({"atoms": atoms, "calculator": calculator, "magnetic": magnetic})
    return f"gs-{terms.exact.hex()[:16]}.gpw"


def self_consistent(
    atoms: Atoms, spec: dict[str, Any], magnetic: bool | None
) -> tuple[Atoms, float]:
    """A copy of `atoms` with its converged calculator, and its energy.

    Started from `magnetism.starting_moments`; with `magnetic` None a
    spin-polarized run whose moments vanish is done again spin-paired, so a
    non-magnetic material's ground state is the spin-paired one.
    """
    atoms = atoms.copy()
    atoms.set_initial_magnetic_moments(starting_moments(atoms, magnetic, spec))
    atoms.calc = calculator_for(atoms, spec)
    energy = float(atoms.get_potential_energy())
    spin_polarized, magmom, magmoms = magnetic_moments(atoms.calc)
    if magnetic is None and spin_polarized and moments_vanished(magmom, magmoms):
        atoms.set_initial_magnetic_moments(None)
        atoms.calc = calculator_for(atoms, spec)
        energy = float(atoms.get_potential_energy())
    return atoms, energy


def soc_work_function(record):
    """Version 1 took the Fermi level without SOC; both levels are stored."""
    result = record.result
    if result.work_function is not None:
        record.result = replace(
            result, work_function=result.vacuum_level - result.efermi_soc
        )
    record.version = 2
    return record


MIGRATIONS = [
    MigrationSelector(
        Selector(name="asr.gs", version=1),
        Migration(
            "asr.gs:1-2",
            "Work function from the Fermi level with spin-orbit coupling",
            soc_work_function,
        ),
    )
]


@instruction("asr.gs", version=2, packages=("gpaw",), migrations=MIGRATIONS)
def main(
    atoms: Atoms, calculator: dict = DEFAULT_GPAW, magnetic: bool | None = None
) -> GroundStateResult:
    """Self-consistent GPAW ground state; keeps the .gpw file for later recipes.

    `magnetic`: None starts a structure without initial moments
    ferromagnetic and keeps the spin-paired ground state when the moments
    vanish, and computes one with zero moments (as `asr.relax` leaves a
    non-magnetic structure) spin-paired at once (`asr.recipes.magnetism`);
    True keeps the spin-polarized one; False computes spin-paired.
    """
    check_2d(atoms)
    dim = dimensionality(atoms)
    spec = gs_spec(atoms, calculator)
    gpw = Path(gpw_name(atoms, calculator, magnetic))
    atoms, energy = self_consistent(atoms, spec, magnetic)
    forces = np.asarray(atoms.get_forces(), dtype=float)
    stress = None
    if mode_name(spec) == "pw" and dim > 0:
        stress = np.asarray(atoms.get_stress(), dtype=float)
    calc = atoms.calc
    calc.write(gpw)

    efermi = float(calc.get_fermi_level())
    edges = band_edges(gpaw_eigenvalues(calc), efermi, calc.get_ibz_k_points())
    soc, efermi_soc = soc_band_edges(calc, *AXES[easy_axis_of(calc)])
    spin_polarized, magmom, magmoms = magnetic_moments(calc)

    vacuum = bottom = top = work_function = z = potential_z = None
    if dim < 3:
        potential = calc.get_electrostatic_potential()
        if dim == 2:
            height = float(atoms.cell[2, 2])
            potential_z = potential.mean(axis=(0, 1))
            z = np.linspace(0.0, height, len(potential_z), endpoint=False)
            bottom, top = vacuum_levels_2d(potential_z, height, atoms.positions[:, 2])
            vacuum = (bottom + top) / 2
            # The Fermi level with SOC, as the C2DB: SOC moves the band
            # edges (MoS2's valence band maximum by ~0.07 eV).
            work_function = vacuum - efermi_soc
        else:
            vacuum = boundary_potential(potential, atoms.pbc)

    return GroundStateResult(
        energy=energy,
        forces=forces,
        stress=stress,
        stress_2d=(
            stress_in_plane(stress, atoms.cell)
            if dim == 2 and stress is not None
            else None
        ),
        efermi=efermi,
        gap=edges.gap,
        gap_dir=edges.gap_dir,
        vbm=edges.vbm,
        cbm=edges.cbm,
        k_vbm=edges.k_vbm,
        k_cbm=edges.k_cbm,
        k_dir=edges.k_dir,
        skn_vbm=edges.skn_vbm,
        skn_cbm=edges.skn_cbm,
        efermi_soc=efermi_soc,
        gap_soc=soc.gap,
        gap_dir_soc=soc.gap_dir,
        vbm_soc=soc.vbm,
        cbm_soc=soc.cbm,
        k_vbm_soc=soc.k_vbm,
        k_cbm_soc=soc.k_cbm,
        vacuum_level=vacuum,
        vacuum_level_bottom=bottom,
        vacuum_level_top=top,
        work_function=work_function,
        z=z,
        potential_z=potential_z,
        spin_polarized=spin_polarized,
        magmom=magmom,
        magmoms=magmoms,
        gpw=File(gpw),
    )
