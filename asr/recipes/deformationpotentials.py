"""Deformation potentials of a 2D material: band-edge shifts under in-plane strain.

Each in-plane strain component (Voigt: xx, yy and the engineering shear xy)
is applied with + and - `strain_percent`; the ground state of every strained
cell (`asr.gs`, on the k-point grid of the unstrained cell; atoms relaxed at
fixed cell by `asr.relax` if `relax_positions`) gives the valence band
maximum and conduction band minimum relative to its vacuum level. The
deformation potential of an edge is the central difference
D = dE_edge / dε (eV per unit strain), with and without spin-orbit coupling.
Absolute edge energies need the vacuum of a 2D material, hence 2D only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .gs import main as groundstate
from .setup.strains import VOIGT_LABELS, strained, with_fixed_kpts

COMPONENTS = ("xx", "yy", "xy")


def _dp(edge: str, component: str) -> Any:
    return field(
        metadata=key(
            f"Deformation potential of the {edge.upper()}, strain {component}, "
            "with spin-orbit coupling",
            "eV",
            database=True,
        ),
        default=None,
    )


@dataclass
class DeformationPotentialsResult(Result):
    title = "Deformation potentials"
    components: list = field(metadata=key("Strain components, Voigt labels"))
    strain_percent: float = field(metadata=key("Strain applied with + and -", "%"))
    edges: np.ndarray = field(
        metadata=key(
            "VBM and CBM relative to the vacuum level without spin-orbit coupling "
            "(components, [-strain, 0, +strain], [VBM, CBM])",
            "eV",
        )
    )
    edges_soc: np.ndarray = field(
        metadata=key("The same with spin-orbit coupling", "eV")
    )
    deformation_potentials: np.ndarray = field(
        metadata=key("dE/dε without spin-orbit coupling (components, [VBM, CBM])", "eV")
    )
    deformation_potentials_soc: np.ndarray = field(
        metadata=key("dE/dε with spin-orbit coupling (components, [VBM, CBM])", "eV")
    )
    dp_vbm_xx: float | None = _dp("vbm", "xx")
    dp_vbm_yy: float | None = _dp("vbm", "yy")
    dp_vbm_xy: float | None = _dp("vbm", "xy")
    dp_cbm_xx: float | None = _dp("cbm", "xx")
    dp_cbm_yy: float | None = _dp("cbm", "yy")
    dp_cbm_xy: float | None = _dp("cbm", "xy")

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        strains = self.strain_percent * np.array([-1.0, 0.0, 1.0])
        fig = Figure(figsize=(7, 3.6))
        axes = fig.subplots(1, 2, sharex=True)
        for ax, e, name in zip(axes, (0, 1), ("VBM", "CBM")):
            for i, component in enumerate(self.components):
                d = self.deformation_potentials_soc[i, e]
                ax.plot(
                    strains,
                    self.edges_soc[i, :, e],
                    "o-",
                    color=f"C{i}",
                    label=f"{component}: D = {d:.2f} eV",
                )
            ax.set_title(f"{name} (with SOC)")
            ax.set_xlabel("strain [%]")
            ax.set_ylabel(r"$E - E_\mathrm{vac}$ [eV]")
            ax.legend(fontsize="small")
        fig.tight_layout()
        path = Path(folder) / "deformationpotentials.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["deformationpotentials.png"]
        return panel


def band_edges_vs_vacuum(atoms: Atoms, spec: dict) -> tuple[list, list]:
    """([VBM, CBM], [VBM, CBM] with SOC) of `atoms`, relative to its vacuum."""
    gs = groundstate(atoms, spec).result
    if gs.vbm is None or gs.vbm_soc is None:
        raise ValueError(
            f"{atoms.get_chemical_formula()} is metallic (under strain): "
            "deformation potentials need band edges"
        )
    vacuum = gs.vacuum_level
    return (
        [gs.vbm - vacuum, gs.cbm - vacuum],
        [gs.vbm_soc - vacuum, gs.cbm_soc - vacuum],
    )


def relaxed(atoms: Atoms, spec: dict, fmax: float) -> Atoms:
    from .relax import main as relax

    return relax(
        atoms, calculator=spec, fmax=fmax, fix_cell=True, allow_symmetry_breaking=True
    ).result.atoms


@instruction("asr.deformationpotentials", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    strain_percent: float = 1.0,
    components: tuple = COMPONENTS,
    relax_positions: bool = True,
    fmax: float = 0.01,
) -> DeformationPotentialsResult:
    """Band-edge deformation potentials for in-plane strains of ± `strain_percent`.

    `components` are among "xx", "yy" and "xy"; `fmax` (eV/Å) is the force
    tolerance when `relax_positions` is set.
    """
    if dimensionality(atoms) != 2:
        raise ValueError("deformation potentials need a 2D material (vacuum along z)")
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown or not components:
        raise ValueError(f"strain components must be among {COMPONENTS}: {unknown}")
    spec = with_fixed_kpts(atoms, calculator)
    strain = strain_percent / 100
    edges, edges_soc = [], []
    for component in components:
        voigt = VOIGT_LABELS.index(component)
        row, row_soc = [], []
        for sign in (-1, 0, 1):
            cell = atoms if sign == 0 else strained(atoms, voigt, sign * strain)
            if relax_positions and sign != 0:
                cell = relaxed(cell, spec, fmax)
            plain, soc = band_edges_vs_vacuum(cell, spec)
            row.append(plain)
            row_soc.append(soc)
        edges.append(row)
        edges_soc.append(row_soc)
    edges, edges_soc = np.array(edges), np.array(edges_soc)
    dp = (edges[:, 2] - edges[:, 0]) / (2 * strain)
    dp_soc = (edges_soc[:, 2] - edges_soc[:, 0]) / (2 * strain)
    keys = {
        f"dp_{edge}_{component}": float(dp_soc[i, e])
        for i, component in enumerate(components)
        for e, edge in enumerate(("vbm", "cbm"))
    }
    return DeformationPotentialsResult(
        components=list(components),
        strain_percent=float(strain_percent),
        edges=edges,
        edges_soc=edges_soc,
        deformation_potentials=dp,
        deformation_potentials_soc=dp_soc,
        **keys,
    )
