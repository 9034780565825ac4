"""Stiffness tensor by finite strain, and the mechanical stability it implies.

Each independent strain component (Voigt order xx, yy, zz, yz, xz, xy; a 2D
material only xx, yy, xy) is applied with + and - `strain_percent`; the
stiffness is the central difference of the stress. With `relax_positions`
the atoms of every strained cell are relaxed first (by `asr.relax` with a
fixed cell), giving the relaxed-ion stiffness. The structure is mechanically
(dynamically, at long wavelengths) stable when every eigenvalue of the
stiffness tensor is positive.
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
)
from .setup.strains import (
    VOIGT_LABELS,
    strained,
    voigt_components,
    with_fixed_kpts,
)

# eV/Å³ -> GPa and eV/Å² -> N/m.
GPA = 1 / units.GPa
N_PER_M = units.m**2 / units.J


@dataclass
class StiffnessResult(Result):
    title = "Stiffness tensor"
    stiffness_tensor: np.ndarray = field(
        metadata=key(
            "Stiffness tensor in Voigt notation (6x6 for 3D, xx-yy-xy 3x3 for 2D)",
            "GPa (3D), N/m (2D)",
        )
    )
    unit: str = field(metadata=key("Unit of the stiffness: GPa or N/m"))
    components: list = field(metadata=key("Voigt labels of the rows and columns"))
    eigenvalues: np.ndarray = field(
        metadata=key("Eigenvalues of the stiffness tensor", "GPa (3D), N/m (2D)")
    )
    min_eigenvalue: float = field(
        metadata=key(
            "Smallest eigenvalue of the stiffness tensor",
            "GPa (3D), N/m (2D)",
            database=True,
        )
    )
    dynamic_stability_stiffness: str = field(
        metadata=key(
            "stable if every stiffness eigenvalue is positive, else unstable",
            database=True,
            label="Dynamic stability (stiffness)",
            priority=65,
        )
    )
    c_11: float = field(
        metadata=key("Stiffness C11", "GPa (3D), N/m (2D)", database=True)
    )
    c_22: float = field(
        metadata=key("Stiffness C22", "GPa (3D), N/m (2D)", database=True)
    )
    c_12: float = field(
        metadata=key("Stiffness C12", "GPa (3D), N/m (2D)", database=True)
    )
    c_66: float = field(
        metadata=key("Stiffness C66", "GPa (3D), N/m (2D)", database=True)
    )
    c_33: float | None = field(
        metadata=key("Stiffness C33 (3D only)", "GPa", database=True)
    )
    c_13: float | None = field(
        metadata=key("Stiffness C13 (3D only)", "GPa", database=True)
    )
    c_23: float | None = field(
        metadata=key("Stiffness C23 (3D only)", "GPa", database=True)
    )
    c_44: float | None = field(
        metadata=key("Stiffness C44 (3D only)", "GPa", database=True)
    )
    c_55: float | None = field(
        metadata=key("Stiffness C55 (3D only)", "GPa", database=True)
    )
    stresses: np.ndarray = field(
        metadata=key(
            "Stress for each strained cell: component, -/+ strain, Voigt stress",
            "eV/Å³",
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        c = self.stiffness_tensor
        n = len(c)
        fig = Figure(figsize=(1.0 + 0.8 * n, 0.8 + 0.8 * n))
        ax = fig.subplots()
        limit = np.abs(c).max() or 1.0
        image = ax.imshow(c, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{c[i, j]:.0f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(n), self.components)
        ax.set_yticks(range(n), self.components)
        fig.colorbar(image, ax=ax, label=f"stiffness [{self.unit}]")
        fig.tight_layout()
        path = Path(folder) / "stiffness.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["stiffness.png"]
        return panel


def stress_of(atoms: Atoms, calculator: dict, relax_positions: bool, fmax: float):
    if relax_positions:
        from .relax import main as relax

        return relax(
            atoms,
            calculator=calculator,
            fmax=fmax,
            fix_cell=True,
            allow_symmetry_breaking=True,
        ).result.stress
    atoms = atoms.copy()
    atoms.calc = calculator_for(atoms, gpaw_spec_for(atoms, calculator))
    return atoms.get_stress()


@instruction("asr.stiffness", version=1)
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    strain_percent: Annotated[float, "%"] = 1.0,
    relax_positions: bool = True,
    fmax: Annotated[float, "eV/Å"] = 0.01,
) -> StiffnessResult:
    """Stiffness tensor from the stress of cells strained by ± `strain_percent`.

    `fmax` (eV/Å) is the force tolerance when `relax_positions` is set.
    """
    components = voigt_components(atoms)
    dim = dimensionality(atoms)
    spec = with_fixed_kpts(atoms, calculator)
    strain = strain_percent / 100
    stresses = np.array(
        [
            [
                stress_of(
                    strained(atoms, i, sign * strain), spec, relax_positions, fmax
                )
                for sign in (-1, 1)
            ]
            for i in components
        ]
    )
    # C[i, j] = dσ_i / dε_j, in eV/Å³.
    derivative = (stresses[:, 1] - stresses[:, 0]) / (2 * strain)
    stiffness = derivative[:, components].T
    if dim == 3:
        stiffness = stiffness * GPA
        unit = "GPa"
    else:
        area = np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1]))
        stiffness = stiffness * atoms.get_volume() / area * N_PER_M
        unit = "N/m"
    eigenvalues = np.linalg.eigvalsh((stiffness + stiffness.T) / 2)
    labels = [VOIGT_LABELS[i] for i in components]
    index = {VOIGT_LABELS[i]: n for n, i in enumerate(components)}

    def c(a: str, b: str) -> float | None:
        if a not in index or b not in index:
            return None
        return float(stiffness[index[a], index[b]])

    return StiffnessResult(
        stiffness_tensor=stiffness,
        unit=unit,
        components=labels,
        eigenvalues=eigenvalues,
        min_eigenvalue=float(eigenvalues.min()),
        dynamic_stability_stiffness="stable" if eigenvalues.min() > 0 else "unstable",
        c_11=c("xx", "xx"),
        c_22=c("yy", "yy"),
        c_12=c("xx", "yy"),
        c_66=c("xy", "xy"),
        c_33=c("zz", "zz"),
        c_13=c("xx", "zz"),
        c_23=c("yy", "zz"),
        c_44=c("yz", "yz"),
        c_55=c("xz", "xz"),
        stresses=stresses,
    )
