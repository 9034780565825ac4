"""A project made the way users make one: a tree, a store, `fromtree`.

Two material folders, each with the real `asr.structureinfo` (its space
group is ranked) and `asr.convex_hull` (energy above hull and heat of
formation are ranked; a figure, the Summary's thumbnail), and test Results
whose keys are ranked, unranked, with declared digits and with the six
digits of noise a calculation leaves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from ase.build import bulk, mx2

from asr.core import Result, instruction, key, use_store
from asr.database.fromtree import fromtree
from asr.recipes.convex_hull import main as convex_hull
from asr.recipes.structureinfo import main as structureinfo
from asr.store import init_store


@dataclass
class BandsResult(Result):
    title = "Electronic bands"
    gap_soc: float = field(
        metadata=key(
            "Band gap with spin-orbit coupling",
            "eV",
            database=True,
            label="Gap (SOC)",
            priority=20,
        )
    )
    gap_dir: float = field(
        metadata=key("Direct band gap without spin-orbit coupling", "eV", database=True)
    )
    vbm_soc: float = field(metadata=key("Valence band maximum with SOC", "eV"))
    weight: float = field(metadata=key("Weight of the gap states", "%", database=True))
    magmom_cell: float = field(
        metadata=key("Magnetic moment of the cell", "μB", database=True, digits=1)
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1, 2], [self.vbm_soc, 0, self.gap_soc])
        path = Path(folder) / "bands.png"
        fig.savefig(path, dpi=50)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["bands.png"]
        return panel


@dataclass
class StabilityResult(Result):
    title = "Magnetism"
    magstate: str = field(
        metadata=key(
            "Magnetic state", database=True, label="Magnetic state", priority=30
        )
    )


@instruction("test.webapp.bands")
def bands(atoms: Atoms) -> BandsResult:
    """Bands of a made-up model."""
    n = len(atoms)
    return BandsResult(
        gap_soc=1.69832 * n / 3,
        gap_dir=1.80021 * n / 3,
        vbm_soc=-4.123456,
        weight=76.5146,
        magmom_cell=0.04 * n,
    )


@instruction("test.webapp.stability")
def stability(atoms: Atoms) -> StabilityResult:
    """Magnetism of a made-up model."""
    return StabilityResult(magstate="nm")


MATERIALS = {
    "MoS2": mx2("MoS2", vacuum=7.5),
    "Si": bulk("Si"),
}
#: Total energies (eV): the materials' and their references' per atom.
ENERGIES = {"MoS2": -22.0123456, "Si": -10.7}
REFERENCES = {"Mo": -10.9, "S": -4.1, "Si": -5.4, "MoS2": -7.4}


def reference_database(path: Path) -> Path:
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.db import connect

    db = connect(path)
    for formula, per_atom in REFERENCES.items():
        atoms = Atoms(formula, cell=[3, 3, 3], pbc=True)
        atoms.calc = SinglePointCalculator(atoms, energy=per_atom * len(atoms))
        db.write(atoms)
    return path


def make_ranked_project(top: Path) -> Path:
    """The tree under `top` and its database `top/project.db`."""
    top.mkdir(parents=True, exist_ok=True)
    store = init_store(top)
    references = [str(reference_database(top / "references.db"))]
    here = Path.cwd()
    with use_store(store):
        try:
            for name, atoms in MATERIALS.items():
                path = top / "tree" / name
                path.mkdir(parents=True)
                os.chdir(path)
                atoms.write("structure.json")
                structureinfo(atoms)
                bands(atoms)
                stability(atoms)
                convex_hull(atoms, ENERGIES[name], references)
        finally:
            os.chdir(here)
        out = top / "project.db"
        fromtree([str(top / "tree" / name) for name in MATERIALS], str(out), workers=1)
    return out
