"""Bader charges: atomic charges from the zero-flux surfaces of the density.

The all-electron density of the ground state (`asr.gs`, refined
`gridrefinement` times) is split into Bader volumes by pybader, a Python
implementation of the grid-based Bader analysis of Henkelman and co-workers
(`pip install pybader`, from PyPI). Each atom's charge is its nuclear
charge minus the electrons in its volume. Without pybader the recipe stops
with an error that says how to install it; no other Bader program is used.
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
from .gs import main as groundstate

INSTALL = "pip install pybader"


class BaderNotInstalledError(RuntimeError):
    """pybader, the Bader analysis program asr.bader uses, is missing."""


@dataclass
class BaderResult(Result):
    title = "Bader charges"
    bader_charges: np.ndarray = field(
        metadata=key("Charge of each atom: nuclear charge minus its electrons", "e")
    )
    volumes: np.ndarray = field(metadata=key("Bader volume of each atom", "Å³"))
    symbols: list = field(metadata=key("Chemical symbol of each atom"))
    electrons: float = field(
        metadata=key("Electrons in all Bader volumes (check: sum of Z)", "e")
    )
    max_bader_charge: float = field(
        metadata=key("Largest absolute Bader charge", "e", database=True)
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        n = len(self.symbols)
        fig = Figure(figsize=(max(4, 0.5 * n + 2), 3.5))
        ax = fig.subplots()
        colors = ["C3" if q > 0 else "C0" for q in self.bader_charges]
        ax.bar(range(n), self.bader_charges, color=colors)
        ax.set_xticks(range(n), [f"{s}{i}" for i, s in enumerate(self.symbols)])
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_ylabel("Bader charge [e]")
        fig.tight_layout()
        path = Path(folder) / "bader.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["bader.png"]
        return panel


def import_pybader():
    """pybader's Bader class, or an error that says how to install it."""
    try:
        with redirect_stdout(io.StringIO()):  # its first import says a lot
            from pybader.interface import Bader
    except ImportError:
        raise BaderNotInstalledError(
            f"asr.bader needs the Bader analysis program pybader: {INSTALL}"
        ) from None
    return Bader


def bader_analysis(density: np.ndarray, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Electrons and volume (Å³) of each atom's Bader volume; `density` in
    e/Å³ on a grid over the cell of `atoms`."""
    bader_class = import_pybader()
    from pybader.io.cube import write

    lattice = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
    positions = np.ascontiguousarray(
        atoms.get_scaled_positions(wrap=True) @ lattice, dtype=np.float64
    )
    info = {
        "filename": "",
        "prefix": "",
        "file_type": "asr",
        "write_function": write,
        "elements": atoms.get_atomic_numbers(),
        "voxel_offset": np.zeros(3),
    }
    with redirect_stdout(io.StringIO()):
        bader = bader_class(
            {"charge": np.ascontiguousarray(density, dtype=np.float64)},
            lattice,
            positions,
            info,
            export_mode=None,
            output="none",
            vacuum_tol=None,
        )
        bader()
    return np.asarray(bader.atoms_charge), np.asarray(bader.atoms_volume)


@instruction("asr.bader", version=1, packages=("gpaw", "pybader"))
def main(
    atoms: Atoms, calculator: dict = DEFAULT_GPAW, gridrefinement: int = 4
) -> BaderResult:
    """Bader charges of the all-electron density refined `gridrefinement` times."""
    from gpaw import GPAW

    import_pybader()  # fail before the ground state if pybader is missing
    gs = groundstate(atoms, calculator).result
    calc = GPAW(gs.gpw.path, txt=None)
    density = calc.get_all_electron_density(gridrefinement=gridrefinement)
    electrons, volumes = bader_analysis(density, atoms)
    charges = atoms.get_atomic_numbers() - electrons
    return BaderResult(
        bader_charges=charges,
        volumes=volumes,
        symbols=atoms.get_chemical_symbols(),
        electrons=float(electrons.sum()),
        max_bader_charge=float(np.abs(charges).max()),
    )
