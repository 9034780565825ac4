"""Born effective charges from finite displacements of the Berry-phase polarization.

Every atom is moved by ± `displacement` Å along x, y and z
(`asr.setup.displacements`); the formal polarization of each displaced
structure (`asr.formalpolarization`) gives Z_a,ij = V ∂P_i/∂u_a,j by central
differences, the phase jumps of 2π removed (GPAW's
`gpaw.borncharges.born_charges`). The acoustic sum rule Σ_a Z_a = 0 holds
exactly only at convergence: its violation is reported and then removed by
subtracting the mean from every atom. A violation above 0.1 e per atom
stops the recipe (more k-points are needed).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .formalpolarization import POLARIZATION_KPTS, TIGHT_CONVERGENCE
from .formalpolarization import main as formalpolarization
from .setup.displacements import main as setup_displacements

SUM_RULE_LIMIT = 0.1  # e per atom


@dataclass
class BornChargesResult(Result):
    title = "Born charges"
    Z_avv: np.ndarray = field(
        metadata=key(
            "Born charge tensors Z_a,ij = V dP_i/du_a,j (atom, i, j), acoustic "
            "sum rule imposed",
            "e",
        )
    )
    symbols: list = field(metadata=key("Chemical symbol of each atom"))
    sum_rule_violation: float = field(
        metadata=key("Largest element of Σ_a Z_a / natoms before it was removed", "e")
    )
    displacement: float = field(metadata=key("Displacement of the atoms", "Å"))
    phases: np.ndarray = field(
        metadata=key(
            "Polarization phases (atom, -/+ displacement, cell vector, axis)", "rad"
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        natoms = len(self.Z_avv)
        ncols = min(natoms, 4)
        nrows = -(-natoms // ncols)
        fig = Figure(figsize=(2.6 * ncols, 2.5 * nrows))
        axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
        limit = float(np.abs(self.Z_avv).max()) or 1.0
        for a, ax in enumerate(axes):
            if a >= natoms:
                ax.set_axis_off()
                continue
            z = self.Z_avv[a]
            ax.imshow(z, cmap="RdBu_r", vmin=-limit, vmax=limit)
            for i in range(3):
                for j in range(3):
                    ax.text(j, i, f"{z[i, j]:.2f}", ha="center", va="center")
            ax.set_xticks(range(3), ["$u_x$", "$u_y$", "$u_z$"])
            ax.set_yticks(range(3), ["$P_x$", "$P_y$", "$P_z$"])
            ax.set_title(f"{self.symbols[a]} (atom {a})")
        fig.tight_layout()
        path = Path(folder) / "borncharges.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["borncharges.png"]
        return panel


@instruction("asr.borncharges", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = POLARIZATION_KPTS,
    displacement: float = 0.01,
    convergence: dict = TIGHT_CONVERGENCE,
) -> BornChargesResult:
    """Born charges from polarizations of structures displaced by ± `displacement` Å.

    `calculator` gives the ground state of each displaced structure, and
    `kpts` the grid of its Berry phases; `convergence` tightens its SCF
    (`asr.formalpolarization`).
    """
    from gpaw.borncharges import born_charges

    displaced = setup_displacements(atoms, delta=displacement).result
    steps: dict[str, tuple[int, int, int, float]] = {}
    phases: dict[str, np.ndarray] = {}
    table = np.zeros((len(atoms), 2, 3, 3))
    for label, structure, index, axis, sign in zip(
        displaced.labels,
        displaced.structures,
        displaced.indices,
        displaced.axes,
        displaced.signs,
        strict=True,
    ):
        phase_c = formalpolarization(
            structure, calculator, kpts, convergence
        ).result.phase_c
        steps[label] = (int(index), int(axis), int(sign), float(displacement))
        phases[label] = phase_c
        table[index, (int(sign) + 1) // 2, :, axis] = phase_c
    with redirect_stdout(io.StringIO()):  # GPAW prints the number of steps
        raw = born_charges(atoms, steps, phases, check=False)["Z_avv"]
    violation = float(np.abs(raw.sum(axis=0)).max() / len(atoms))
    if violation > SUM_RULE_LIMIT:
        raise ValueError(
            f"the Born charges break the acoustic sum rule by {violation:.3f} e "
            "per atom: converge the ground state better or use more k-points"
        )
    with redirect_stdout(io.StringIO()):
        corrected = born_charges(atoms, steps, phases, check=True)["Z_avv"]
    return BornChargesResult(
        Z_avv=np.asarray(corrected),
        symbols=atoms.get_chemical_symbols(),
        sum_rule_violation=violation,
        displacement=float(displacement),
        phases=table,
    )
