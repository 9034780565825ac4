"""Band structure along a path through the Brillouin zone, with spin-orbit coupling.

The Kohn-Sham equations are solved non-self-consistently at the ground-state
density (`asr.gs`, GPAW's ``fixed_density``) along ASE's band path for the
cell (``atoms.cell.bandpath``), without symmetry. Spin-orbit coupling is added
afterwards (`gpaw.spinorbit.soc_eigenstates`, spins along
the easy axis of a magnet: `asr.recipes.spinaxis`), which also gives
the spin projection of every state on that axis (⟨s_z⟩ for a non-magnet).

Energies are relative to the vacuum level for 2D materials (so band edges are
ionisation potential and electron affinity with a minus sign) and to the Fermi
level otherwise; `reference` gives that energy on GPAW's scale. The band edges
found along the path need not be those of `asr.gs` (which come from its k-point
grid): the database keys of the gaps belong to `asr.gs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from ase import Atoms

from asr.core import File, Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality, fixed_density
from .gs import band_edges
from .gs import main as groundstate
from .spinaxis import spin_along_axis, spin_axis


@dataclass
class BandStructureResult(Result):
    title = "Band structure"
    path: dict = field(
        metadata=key(
            "Band path: cell, kpts (scaled), special_points and path string, "
            "as taken by ase.dft.kpoints.BandPath"
        )
    )
    reference: float = field(
        metadata=key("Energy all other energies are relative to, on GPAW's scale", "eV")
    )
    reference_name: str = field(
        metadata=key("What the reference is: 'vacuum level' or 'Fermi level'")
    )
    energies: np.ndarray = field(
        metadata=key(
            "Band energies without spin-orbit coupling (spins, k-points, bands)", "eV"
        )
    )
    energies_soc: np.ndarray = field(
        metadata=key("Band energies with spin-orbit coupling (k-points, bands)", "eV")
    )
    spin_z_soc: np.ndarray = field(
        metadata=key(
            "Spin projection of each state with spin-orbit coupling on the spin "
            "axis: ⟨s_z⟩ unless a magnet's easy axis is x or y"
        )
    )
    efermi: float = field(
        metadata=key("Fermi level without spin-orbit coupling (of asr.gs)", "eV")
    )
    efermi_soc: float = field(
        metadata=key("Fermi level with spin-orbit coupling (of asr.gs)", "eV")
    )
    gap: float = field(
        metadata=key("Band gap along the path without spin-orbit coupling", "eV")
    )
    gap_dir: float = field(
        metadata=key("Direct band gap along the path without spin-orbit coupling", "eV")
    )
    vbm: float | None = field(
        metadata=key("Valence band maximum along the path (None: a metal)", "eV")
    )
    cbm: float | None = field(
        metadata=key("Conduction band minimum along the path (None: a metal)", "eV")
    )
    k_vbm: np.ndarray | None = field(
        metadata=key("k-point of the VBM along the path (scaled)")
    )
    k_cbm: np.ndarray | None = field(
        metadata=key("k-point of the CBM along the path (scaled)")
    )
    gap_soc: float = field(
        metadata=key("Band gap along the path with spin-orbit coupling", "eV")
    )
    gap_dir_soc: float = field(
        metadata=key("Direct band gap along the path with spin-orbit coupling", "eV")
    )
    vbm_soc: float | None = field(
        metadata=key("Valence band maximum with spin-orbit coupling", "eV")
    )
    cbm_soc: float | None = field(
        metadata=key("Conduction band minimum with spin-orbit coupling", "eV")
    )
    k_vbm_soc: np.ndarray | None = field(
        metadata=key("k-point of the VBM with spin-orbit coupling (scaled)")
    )
    k_cbm_soc: np.ndarray | None = field(
        metadata=key("k-point of the CBM with spin-orbit coupling (scaled)")
    )
    gpw: File = field(
        metadata=key("GPAW file of the band-path calculation (projections, no wfs)")
    )

    def bandpath(self):
        """The path as an `ase.dft.kpoints.BandPath`."""
        from ase.dft.kpoints import BandPath

        return BandPath(**self.path)

    def energy_window(self, below: float = 3.0, above: float = 3.0):
        """(emin, emax) around the band edges (around E_F for a metal)."""
        if self.vbm_soc is None or self.cbm_soc is None:
            return self.efermi_soc - below, self.efermi_soc + above
        return self.vbm_soc - below, self.cbm_soc + above

    def figures(self, folder: Path) -> list[Path]:
        return [self.plot_bands(folder), self.plot_path(folder)]

    def plot_bands(self, folder: Path) -> Path:
        from ase.spectrum.band_structure import BandStructure
        from matplotlib.figure import Figure

        path = self.bandpath()
        emin, emax = self.energy_window()
        fig = Figure(figsize=(6.4, 4.8))
        ax = fig.subplots()
        x, _, _ = path.get_linear_kpoint_axis()
        for e_kn in self.energies:
            ax.plot(x, e_kn, color="0.65", lw=0.8, zorder=0)
        bs = BandStructure(path, self.energies_soc[np.newaxis], self.efermi_soc)
        bs.plot(
            ax=ax,
            emin=emin,
            emax=emax,
            point_colors=self.spin_z_soc[np.newaxis],
            cmap="coolwarm",
            colorbar=False,
            s=4,
            ylabel=label_for(self.reference_name),
        )
        label = r"$\langle s \rangle$ on the spin axis"
        fig.colorbar(ax.collections[-1], ax=ax, label=label)
        for k, e, name in (
            (self.k_vbm_soc, self.vbm_soc, "VBM"),
            (self.k_cbm_soc, self.cbm_soc, "CBM"),
        ):
            if e is None:
                continue
            i = int(np.argmin(np.linalg.norm(path.kpts - k, axis=1)))
            ax.plot(x[i], e, "o", mfc="none", mec="k", ms=8, zorder=3)
            ax.annotate(name, (x[i], e), textcoords="offset points", xytext=(6, 6))
        ax.axhline(self.efermi_soc, color="k", ls=":", lw=0.8)
        fig.tight_layout()
        filename = Path(folder) / "bandstructure.png"
        fig.savefig(filename)
        return filename

    def plot_path(self, folder: Path) -> Path:
        from matplotlib.figure import Figure

        path = self.bandpath()
        fig = Figure(figsize=(4.8, 4.8))
        if path.cell.rank == 3:
            ax = fig.add_subplot(projection="3d")
        else:
            ax = fig.add_subplot()
        path.plot(ax=ax)
        filename = Path(folder) / "bz-path.png"
        fig.savefig(filename)
        return filename

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["bandstructure.png", "bz-path.png"]
        return panel


def label_for(reference_name: str) -> str:
    if reference_name == "vacuum level":
        return r"$E - E_\mathrm{vac}$ [eV]"
    return r"$E - E_\mathrm{F}$ [eV]"


def reference_energy(atoms: Atoms, gs) -> tuple[float, str]:
    """The vacuum level of a 2D material, else the Fermi level (GPAW's scale)."""
    if dimensionality(atoms) == 2 and gs.vacuum_level is not None:
        return float(gs.vacuum_level), "vacuum level"
    return float(gs.efermi), "Fermi level"


def path_dict(path) -> dict[str, Any]:
    """A BandPath as storable data (`BandPath(**data)` rebuilds it)."""
    return {
        "cell": np.asarray(path.cell.array, dtype=float),
        "kpts": np.asarray(path.kpts, dtype=float),
        "special_points": {
            str(name): np.asarray(k, dtype=float)
            for name, k in path.special_points.items()
        },
        "path": str(path.path),
    }


def shifted(value: float | None, reference: float) -> float | None:
    return None if value is None else float(value - reference)


def bs_name(arguments: dict[str, Any]) -> str:
    """``bs-<hash>.gpw``: different calls in one folder never share a file."""
    return f"bs-{main.terms(arguments).exact.hex()[:16]}.gpw"


@instruction("asr.bandstructure", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    npoints: Annotated[int, "k-points"] = 400,
    path: str | None = None,
) -> BandStructureResult:
    """Bands along `path` (None: ASE's path for the cell) at `npoints` k-points."""
    from gpaw.spinorbit import soc_eigenstates

    if dimensionality(atoms) == 0:
        raise ValueError("a molecule has no band structure: it has no k-points")
    gs = groundstate(atoms, calculator).result
    bandpath = atoms.cell.bandpath(path, pbc=atoms.pbc, npoints=npoints)
    calc = fixed_density(gs.gpw.path, calculator, kpts=bandpath.kpts, symmetry="off")
    gpw = Path(
        bs_name(
            {"atoms": atoms, "calculator": calculator, "npoints": npoints, "path": path}
        )
    )
    calc.write(gpw)
    reference, reference_name = reference_energy(atoms, gs)

    nspins = calc.get_number_of_spins()
    e_skn = np.array(
        [
            [calc.get_eigenvalues(kpt=k, spin=s) for k in range(len(bandpath.kpts))]
            for s in range(nspins)
        ]
    )
    theta, phi = spin_axis(atoms, calculator)
    soc = soc_eigenstates(calc, theta=theta, phi=phi)
    e_km = soc.eigenvalues()
    sz_km = spin_along_axis(soc, theta, phi)

    edges = band_edges(e_skn, gs.efermi, bandpath.kpts)
    edges_soc = band_edges(e_km[np.newaxis], gs.efermi_soc, bandpath.kpts)
    return BandStructureResult(
        path=path_dict(bandpath),
        reference=reference,
        reference_name=reference_name,
        energies=e_skn - reference,
        energies_soc=e_km - reference,
        spin_z_soc=np.asarray(sz_km, dtype=float),
        efermi=float(gs.efermi - reference),
        efermi_soc=float(gs.efermi_soc - reference),
        gap=edges.gap,
        gap_dir=edges.gap_dir,
        vbm=shifted(edges.vbm, reference),
        cbm=shifted(edges.cbm, reference),
        k_vbm=edges.k_vbm,
        k_cbm=edges.k_cbm,
        gap_soc=edges_soc.gap,
        gap_dir_soc=edges_soc.gap_dir,
        vbm_soc=shifted(edges_soc.vbm, reference),
        cbm_soc=shifted(edges_soc.cbm, reference),
        k_vbm_soc=edges_soc.k_vbm,
        k_cbm_soc=edges_soc.k_cbm,
        gpw=File(gpw),
    )
