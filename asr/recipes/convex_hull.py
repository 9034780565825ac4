"""Convex hull: formation energy and energy above the hull of reference phases.

The material's total energy (e.g. from ``asr.gs``) is compared with reference
rows of ASE databases: every row whose elements are among the material's and
that has an ``energy`` (total energy, eV) counts. The lowest energy per atom
of each pure element is its chemical potential; the formation energy is the
energy per atom relative to those; the energy above the hull is the formation
energy minus that of the most stable mixture of references with the same
composition (ASE's `ase.phasediagram.PhaseDiagram`). A negative energy above
the hull means the material is more stable than every known mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ase import Atoms
from ase.formula import Formula

from asr.core import Result, instruction, key
from asr.recipes.common import open_database

if TYPE_CHECKING:
    from ase.phasediagram import PhaseDiagram

# Formation energy and energy above the hull (eV/atom) below which a material
# counts as thermodynamically stable enough ("high") to be made.
STABILITY_MARGIN = 0.2


@dataclass
class ConvexHullResult(Result):
    title = "Thermodynamic stability"
    formula: str = field(metadata=key("Chemical formula of the material"))
    hform: float = field(
        metadata=key(
            "Formation energy per atom",
            "eV/atom",
            database=True,
            label="Heat of formation",
            priority=50,
        )
    )
    ehull: float = field(
        metadata=key(
            "Energy above the convex hull",
            "eV/atom",
            database=True,
            label="Energy above hull",
            priority=40,
        )
    )
    thermodynamic_stability: str = field(
        metadata=key(
            f"low: hform ≥ {STABILITY_MARGIN}; medium: hform < {STABILITY_MARGIN} "
            f"but ehull ≥ {STABILITY_MARGIN}; high: ehull < {STABILITY_MARGIN} "
            "(eV/atom)",
            database=True,
            label="Thermodynamic stability",
            priority=70,
        )
    )
    elements: list = field(metadata=key("Elements of the material"))
    references: list = field(
        metadata=key(
            "Reference rows: formula, natoms, energy (eV), hform (eV/atom), "
            "on_hull, database, id, uid"
        )
    )
    decomposition: list = field(
        metadata=key(
            "Most stable mixture of references at the material's composition: "
            "reference rows with the number of their formula units per material"
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        if len(self.elements) not in (2, 3):
            return []
        from matplotlib.figure import Figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(6, 5))
        ax = fig.add_subplot()
        diagram = phase_diagram(self.references)
        diagram.plot(ax=ax)
        fractions = Formula(self.formula).count()
        natoms = sum(fractions.values())
        x = [fractions.get(symbol, 0) / natoms for symbol in diagram.symbols]
        if len(self.elements) == 2:
            ax.plot(x[1], self.hform, "*", color="C1", ms=14, label=self.formula)
            ax.set_ylabel("Formation energy (eV/atom)")
            ax.set_xlabel(f"Fraction of {diagram.symbols[1]}")
            ax.axhline(0, color="0.7", lw=0.8, zorder=0)
        else:
            ax.plot(
                x[1] + x[2] / 2,
                x[2] * 3**0.5 / 2,
                "*",
                color="C1",
                ms=14,
                label=self.formula,
            )
            ax.set_aspect("equal")
            ax.axis("off")
        ax.legend(loc="best")
        ax.set_title(
            f"{self.formula}: ΔH = {self.hform:.3f}, "
            f"E above hull = {self.ehull:.3f} eV/atom"
        )
        fig.tight_layout()
        path = folder / "convex_hull.png"
        fig.savefig(path, dpi=100)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        if len(self.elements) in (2, 3):
            panel["figures"] = ["convex_hull.png"]
        return panel


def phase_diagram(references: list[dict]) -> PhaseDiagram:
    """The hull of the references' formation energies (elements first)."""
    from ase.phasediagram import PhaseDiagram  # imports SciPy: only when used

    entries = [
        (Formula(ref["formula"]).count(), ref["hform"] * ref["natoms"])
        for ref in references
    ]
    return PhaseDiagram(entries, verbose=False)


def read_references(databases: list[str], elements: list[str]) -> list[dict]:
    """Rows with an energy whose elements all are among `elements`."""
    references = []
    for path in databases:
        for row in open_database(path).select():
            count = row.count_atoms()
            energy = row.get("energy")
            if energy is None or not set(count) <= set(elements):
                continue
            references.append(
                {
                    "formula": row.formula,
                    "natoms": int(row.natoms),
                    "energy": float(energy),
                    "database": str(Path(path).resolve()),
                    "id": int(row.id),
                    "uid": row.get("uid"),
                    "count": count,
                }
            )
    return references


def chemical_potentials(references: list[dict], elements: list[str]) -> dict:
    """The lowest energy per atom of each pure element."""
    potentials = {}
    for element in elements:
        energies = [
            ref["energy"] / ref["natoms"]
            for ref in references
            if set(ref["count"]) == {element}
        ]
        if not energies:
            raise ValueError(
                f"the reference databases have no row of pure {element} with an "
                "energy: add one (the same calculator as the material's energy)"
            )
        potentials[element] = min(energies)
    return potentials


def formation_energy(count: dict, energy: float, potentials: dict) -> float:
    """Energy per atom (eV) relative to the elements' chemical `potentials`."""
    reference = sum(n * potentials[symbol] for symbol, n in count.items())
    return (energy - reference) / sum(count.values())


def stability(hform: float, ehull: float) -> str:
    if hform >= STABILITY_MARGIN:
        return "low"
    if ehull >= STABILITY_MARGIN:
        return "medium"
    return "high"


@instruction("asr.convex_hull", version=0)
def main(atoms: Atoms, energy: float, databases: list[str]) -> ConvexHullResult:
    """Formation energy and energy above hull of `atoms` with total `energy` (eV)."""
    if isinstance(databases, (str, Path)):
        raise ValueError("databases must be a list of database paths")
    if not databases:
        raise ValueError("give at least one reference database")
    if len(atoms) == 0:
        raise ValueError("a structure without atoms has no formation energy")
    if not math.isfinite(energy):
        raise ValueError(f"the energy must be a finite number, not {energy}")
    count = atoms.symbols.formula.count()
    elements = sorted(count)
    natoms = len(atoms)
    found = read_references([str(p) for p in databases], elements)
    potentials = chemical_potentials(found, elements)
    for ref in found:
        ref["hform"] = formation_energy(ref["count"], ref["energy"], potentials)
    hform = formation_energy(count, energy, potentials)
    # Pure elements first, in order, so the hull's axes follow `elements`.
    found.sort(
        key=lambda r: (len(r["count"]), [elements.index(s) for s in sorted(r["count"])])
    )
    for ref in found:
        del ref["count"]
    if len(elements) == 1:
        lowest = min(found, key=lambda r: r["hform"])
        hull_energy, parts = 0.0, [(lowest, natoms / lowest["natoms"])]
        on_hull = [ref is lowest for ref in found]
    else:
        diagram = phase_diagram(found)
        total, indices, coefficients = diagram.decompose(**count)
        hull_energy = total / natoms
        parts = [(found[i], c) for i, c in zip(indices, coefficients, strict=True)]
        on_hull = list(diagram.hull)
    for ref, flag in zip(found, on_hull, strict=True):
        ref["on_hull"] = bool(flag)
    decomposition = [
        {**ref, "amount": float(amount)} for ref, amount in parts if amount > 1e-10
    ]
    ehull = hform - hull_energy
    return ConvexHullResult(
        formula=atoms.get_chemical_formula(mode="metal"),
        hform=float(hform),
        ehull=float(ehull),
        thermodynamic_stability=stability(hform, ehull),
        elements=elements,
        references=found,
        decomposition=decomposition,
    )
