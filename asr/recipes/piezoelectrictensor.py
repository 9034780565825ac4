"""Piezoelectric tensor from the formal polarization of strained cells.

Each independent strain component (Voigt order xx, yy, zz, yz, xz, xy; a 2D
material only xx, yy, xy) is applied with ± `strain_percent`
(`asr.setup.strains.strained`, engineering strain for shears) and the
polarization phases of the strained cells (`asr.formalpolarization`) give
the proper piezoelectric tensor by central differences,

    e_ijk = Σ_c a_c,i ∂φ_c/∂ε_jk / (2πV),

with the phases' 2π jumps removed and the unstrained cell vectors a_c and
volume V, so that the polarization quantum does not enter. The clamped-ion
tensor keeps the scaled positions of the atoms; the relaxed-ion (full)
tensor relaxes them in every strained cell first (`asr.relax` with a fixed
cell). k-point grids are those of the unstrained cell. Units: e/Å² for
bulk, e/Å for 2D (the polarization times the cell height).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, DEFAULT_GPAW_FORCES, check_2d, dimensionality
from .formalpolarization import (
    POLARIZATION_KPTS,
    TIGHT_CONVERGENCE,
    nonperiodic_measure,
)
from .formalpolarization import main as formalpolarization
from .setup.strains import COMPONENTS, VOIGT_LABELS, strained, with_fixed_kpts
from .wavefunctions import kpts_argument

# Voigt index -> the two Cartesian indices of the strain.
VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


@dataclass
class PiezoelectricTensorResult(Result):
    title = "Piezoelectric tensor"
    eps_vvv: np.ndarray | None = field(
        metadata=key(
            "Relaxed-ion piezoelectric tensor e_ijk = dP_i/dε_jk (None when "
            "the positions were not relaxed)",
            "e/Å² (bulk), e/Å (2D)",
        )
    )
    eps_clamped_vvv: np.ndarray = field(
        metadata=key("Clamped-ion piezoelectric tensor e_ijk", "e/Å² (bulk), e/Å (2D)")
    )
    eps_voigt: np.ndarray = field(
        metadata=key(
            "Piezoelectric tensor in Voigt form e_iJ (relaxed-ion if available)",
            "e/Å² (bulk), e/Å (2D)",
        )
    )
    components: list = field(metadata=key("Voigt labels of the strains applied"))
    max_piezo: float = field(
        metadata=key(
            "Largest absolute element of the piezoelectric tensor",
            "e/Å² (bulk), e/Å (2D)",
            database=True,
        )
    )
    strain_percent: float = field(metadata=key("Strain applied", "%"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        e = self.eps_voigt
        fig = Figure(figsize=(1.2 + 0.9 * e.shape[1], 3.2))
        ax = fig.subplots()
        limit = float(np.abs(e).max()) or 1.0
        image = ax.imshow(e, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for i in range(e.shape[0]):
            for j in range(e.shape[1]):
                ax.text(j, i, f"{e[i, j]:.3f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(e.shape[1]), self.components)
        ax.set_yticks(range(3), ["x", "y", "z"])
        fig.colorbar(image, ax=ax, label="e [e/Å^n]")
        fig.tight_layout()
        path = Path(folder) / "piezoelectrictensor.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["piezoelectrictensor.png"]
        return panel


def tensor_from_phases(
    phases: np.ndarray, atoms: Atoms, components: tuple, strain: float
) -> np.ndarray:
    """e_ijk from phases of shape (component, -/+ strain, cell vector)."""
    dphase = phases[:, 1] - phases[:, 0]
    dphase -= np.round(dphase / (2 * np.pi)) * 2 * np.pi
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    # dP_i/dη_J for each applied Voigt strain η_J.
    derivative = dphase @ cell / (2 * np.pi * volume) / (2 * strain)
    derivative *= nonperiodic_measure(atoms)
    tensor = np.zeros((3, 3, 3))
    for row, component in zip(derivative, components, strict=True):
        j, k = VOIGT_PAIRS[component]
        tensor[:, j, k] = row
        tensor[:, k, j] = row
    return tensor


def voigt(tensor: np.ndarray, components: tuple) -> np.ndarray:
    """e_iJ (3 x components) from the full tensor e_ijk."""
    pairs = [VOIGT_PAIRS[c] for c in components]
    return np.array([tensor[:, j, k] for j, k in pairs]).T


@instruction("asr.piezoelectrictensor", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = POLARIZATION_KPTS,
    strain_percent: float = 1.0,
    relax_positions: bool = True,
    relax_calculator: dict = DEFAULT_GPAW_FORCES,
    fmax: float = 0.01,
    convergence: dict = TIGHT_CONVERGENCE,
) -> PiezoelectricTensorResult:
    """Clamped- and relaxed-ion piezoelectric tensors from ± `strain_percent`.

    `calculator` gives the ground states (their SCF tightened to
    `convergence`, see `asr.formalpolarization`) and `kpts` the Berry-phase
    grids;
    with `relax_positions` the atoms of each strained cell are relaxed with
    `relax_calculator` to forces below `fmax` (eV/Å).
    """
    from .relax import main as relax

    check_2d(atoms)
    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError(
            "the piezoelectric tensor needs a bulk or 2D material (vacuum along z)"
        )
    components = COMPONENTS[dim]
    spec = with_fixed_kpts(atoms, calculator)
    relax_spec = with_fixed_kpts(atoms, relax_calculator)
    berry_kpts = kpts_argument(atoms, kpts)
    strain = strain_percent / 100
    kinds = ("clamped", "relaxed") if relax_positions else ("clamped",)
    phases = {kind: np.zeros((len(components), 2, 3)) for kind in kinds}
    for n, component in enumerate(components):
        for s, sign in enumerate((-1, 1)):
            cell = strained(atoms, component, sign * strain)
            for kind in kinds:
                if kind == "relaxed":
                    cell = relax(
                        cell,
                        calculator=relax_spec,
                        fmax=fmax,
                        fix_cell=True,
                        allow_symmetry_breaking=True,
                    ).result.atoms
                result = formalpolarization(cell, spec, berry_kpts, convergence).result
                phases[kind][n, s] = result.phase_c
    clamped = tensor_from_phases(phases["clamped"], atoms, components, strain)
    relaxed = (
        tensor_from_phases(phases["relaxed"], atoms, components, strain)
        if relax_positions
        else None
    )
    best = relaxed if relaxed is not None else clamped
    return PiezoelectricTensorResult(
        eps_vvv=relaxed,
        eps_clamped_vvv=clamped,
        eps_voigt=voigt(best, components),
        components=[VOIGT_LABELS[c] for c in components],
        max_piezo=float(np.abs(best).max()),
        strain_percent=float(strain_percent),
    )
