"""Magnetic anisotropy: easy axis and spin-orbit energies of spins along x, y, z.

Spin-orbit coupling is added to the `asr.gs` ground state non-selfconsistently
(`gpaw.spinorbit.soc_eigenstates`) with the spins along x, y and z in turn;
by the magnetic force theorem the energy differences are those of the sums of
occupied eigenvalues. Energies are in meV per unit cell. A non-magnetic
ground state (see `asr.magstate`) has no anisotropy: zeros, z as the axis,
and a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .gs import main as groundstate
from .magstate import main as magstate
from .spinaxis import AXES, easy_axis, soc_energies


@dataclass
class MagneticAnisotropyResult(Result):
    title = "Magnetic anisotropy"
    easy_axis: str = field(
        metadata=key("Spin direction of lowest energy: x, y or z", database=True)
    )
    theta: float = field(metadata=key("Polar angle θ of the easy axis", "°"))
    phi: float = field(metadata=key("Azimuthal angle φ of the easy axis", "°"))
    dE_zx: float = field(
        metadata=key("E(spins along z) - E(spins along x)", "meV", database=True)
    )
    dE_zy: float = field(
        metadata=key("E(spins along z) - E(spins along y)", "meV", database=True)
    )
    energies: np.ndarray = field(
        metadata=key("Energy of spins along x, y and z, minus the lowest", "meV")
    )
    is_magnetic: bool = field(metadata=key("Whether the ground state is magnetic"))
    note: str = field(metadata=key("What the user should know about this result"))

    def figures(self, folder: Path) -> list[Path]:
        if not self.is_magnetic:
            return []
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.bar(list(AXES), self.energies, color=["C0", "C1", "C2"])
        ax.set_xlabel("spin direction")
        ax.set_ylabel("E - E(easy axis) [meV]")
        fig.tight_layout()
        path = Path(folder) / "magnetic-anisotropy.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        if self.is_magnetic:
            panel["figures"] = ["magnetic-anisotropy.png"]
        return panel


@instruction("asr.magnetic_anisotropy", version=1, packages=("gpaw",))
def main(atoms: Atoms, calculator: dict = DEFAULT_GPAW) -> MagneticAnisotropyResult:
    """Easy axis and anisotropy energies (meV per cell) from spin-orbit coupling."""
    state = magstate(atoms, calculator).result
    if not state.is_magnetic:
        return MagneticAnisotropyResult(
            easy_axis="z",
            theta=0.0,
            phi=0.0,
            dE_zx=0.0,
            dE_zy=0.0,
            energies=np.zeros(3),
            is_magnetic=False,
            note="The ground state is not magnetic: there is no anisotropy.",
        )
    from gpaw import GPAW

    calc = GPAW(groundstate(atoms, calculator).result.gpw.path, txt=None)
    energies = soc_energies(calc)
    axis = easy_axis(energies)
    theta, phi = AXES[axis]
    lowest = min(energies.values())
    return MagneticAnisotropyResult(
        easy_axis=axis,
        theta=theta,
        phi=phi,
        dE_zx=float(energies["z"] - energies["x"]),
        dE_zy=float(energies["z"] - energies["y"]),
        energies=np.array([energies[a] - lowest for a in AXES]),
        is_magnetic=True,
        note="",
    )
