"""Convex-hull cut: stability of a material against reaction with a reactant.

The convex hull of `asr.convex_hull` asks whether a material decomposes into
phases of its own elements. Exposed to a reactant (oxygen, say), it may react
instead. This recipe cuts the convex hull of the material's elements plus the
reactant along the line from the material (reactant fraction x = 0) to the
pure reactant (x = 1): every composition on that line keeps the ratio of the
material's elements fixed. Along the cut the hull is piecewise linear; its
vertices are the mixtures of reference phases (ASE's
`ase.phasediagram.PhaseDiagram`) the material with reactant can turn into.

With the reactant in a reservoir at chemical potential Δμ (relative to its
elemental reference, the lowest energy per atom of its pure rows), one atom of
material taking up reactant to end at the cut's vertex x changes the energy
by (h(x) - (1 - x) h_material - x Δμ) / (1 - x). The material is stable
against the reactant when no vertex lowers the energy, i.e. for
Δμ < Δμ_max = min over vertices of (h(x) - (1 - x) h_material) / x: the
reaction energy per reactant atom of the most favourable reaction. Δμ_max = 0
means the material does not react even with the elemental reactant. A
material above the hull (`ehull` > 0) decomposes without any reactant; Δμ_max
then still compares it with the vertices that contain reactant. Formation
energies and references follow `asr.convex_hull` (rows with an ``energy`` in
the given databases, the same calculator as the material's `energy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.formula import Formula

from asr.core import Result, instruction, key

from .convex_hull import (
    chemical_potentials,
    formation_energy,
    phase_diagram,
    read_references,
)

# Compositions along the cut closer than this are one point.
TOLERANCE = 1e-9


@dataclass
class ConvexHullCutResult(Result):
    title = "Convex-hull cut"
    formula: str = field(metadata=key("Chemical formula of the material"))
    reactant: str = field(metadata=key("Element the material is exposed to"))
    hform: float = field(
        metadata=key("Formation energy of the material per atom", "eV/atom")
    )
    ehull: float = field(
        metadata=key(
            "Energy of the material above the hull at its own composition",
            "eV/atom",
        )
    )
    dmu_reactant: float = field(
        metadata=key(
            "Largest chemical potential of the reactant (relative to its "
            "elemental reference) at which the material does not react with it: "
            "the reaction energy per reactant atom of the most favourable "
            "reaction (0: no reaction with the elemental reactant)",
            "eV/atom",
            database=True,
            label="Stable below Δμ(reactant)",
        )
    )
    reaction: str = field(
        metadata=key(
            "Most favourable reaction per formula unit of the material "
            "(empty if there is none)"
        )
    )
    cut: list = field(
        metadata=key(
            "Vertices of the hull along the cut: reactant fraction x, hull "
            "formation energy hform (eV/atom) and its decomposition (formula, "
            "fraction of the atoms)"
        )
    )
    references: list = field(
        metadata=key(
            "Reference rows: formula, natoms, energy (eV), hform (eV/atom), "
            "on_hull, database, id, uid (the material itself has no database)"
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(6, 4.5))
        ax = fig.add_subplot()
        x = [point["x"] for point in self.cut]
        h = [point["hform"] for point in self.cut]
        ax.plot(x, h, "o-", color="C0", label="hull along the cut")
        ax.plot(
            [0, 1], [self.hform, 0], "--", color="0.6", label="no reaction", zorder=0
        )
        ax.plot(0, self.hform, "*", color="C1", ms=14, label=self.formula)
        for point in self.cut:
            ax.annotate(
                decomposition_label(point["decomposition"]),
                (point["x"], point["hform"]),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize="x-small",
            )
        ax.axhline(0, color="0.7", lw=0.8, zorder=0)
        ax.set_xlabel(f"Fraction of {self.reactant}")
        ax.set_ylabel("Formation energy (eV/atom)")
        ax.set_title(
            f"{self.formula} + {self.reactant}: "
            f"stable below Δμ = {self.dmu_reactant:.3f} eV"
        )
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        path = folder / "chc.png"
        fig.savefig(path, dpi=100)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["chc.png"]
        return panel


def decomposition_label(parts: list[dict]) -> str:
    return " + ".join(f"{p['fraction']:.2g} {p['formula']}" for p in parts)


@dataclass
class Segment:
    """Where the line start → end crosses one facet of the lower hull.

    The composition (1 - x) start + x end is sum_i λ_i corner_i with
    λ = origin + x slope, all λ ≥ 0 for `low` ≤ x ≤ `high`.
    """

    corners: np.ndarray  # indices of the facet's references
    origin: np.ndarray
    slope: np.ndarray
    low: float
    high: float


def cut_segments(diagram, start: np.ndarray, end: np.ndarray) -> list[Segment]:
    """The facets of the lower hull the line start → end runs through."""
    segments = []
    for simplex in diagram.simplices:
        # Columns: the compositions (fractions of every element) of the
        # facet's corners; fractions add up to one, so sum(λ) = 1 is built in.
        corners = diagram.points[simplex, :-1].T
        try:
            origin = np.linalg.solve(corners, start)
            slope = np.linalg.solve(corners, end - start)
        except np.linalg.LinAlgError:  # a flat facet: its neighbours cover it
            continue
        low, high = 0.0, 1.0
        for a, b in zip(origin, slope, strict=True):
            if abs(b) < TOLERANCE:
                if a < -TOLERANCE:
                    low, high = 1.0, 0.0
            elif b > 0:
                low = max(low, -a / b)
            else:
                high = min(high, -a / b)
        if low <= high + TOLERANCE:
            segments.append(Segment(simplex, origin, slope, low, high))
    return segments


def hull_along(diagram, references: list[dict], start, end) -> list[dict]:
    """The hull at every end of a segment: x, hform (eV/atom), decomposition."""
    segments = cut_segments(diagram, start, end)
    xs = sorted(min(max(x, 0.0), 1.0) for s in segments for x in (s.low, s.high))
    unique = [xs[0]]
    for x in xs[1:]:
        if x - unique[-1] > TOLERANCE:
            unique.append(x)
    cut = []
    for x in unique:
        candidates = []
        for s in segments:
            if s.low - TOLERANCE <= x <= s.high + TOLERANCE:
                weights = np.clip(s.origin + x * s.slope, 0.0, None)
                weights /= weights.sum()
                energy = float(weights @ diagram.points[s.corners, -1])
                candidates.append((energy, s.corners, weights))
        energy, corners, weights = min(candidates, key=lambda c: c[0])
        parts = [
            {"formula": references[i]["formula"], "fraction": float(w)}
            for i, w in zip(corners, weights, strict=True)
            if w > TOLERANCE
        ]
        cut.append({"x": float(x), "hform": energy, "decomposition": parts})
    return cut


def without_straight_points(cut: list[dict]) -> list[dict]:
    """The vertices where the hull along the cut bends (ends kept)."""
    kept = [cut[0]]
    for middle, after in zip(cut[1:-1], cut[2:], strict=True):
        before = kept[-1]
        t = (middle["x"] - before["x"]) / (after["x"] - before["x"])
        line = before["hform"] + t * (after["hform"] - before["hform"])
        if abs(middle["hform"] - line) > 1e-8:
            kept.append(middle)
    kept.append(cut[-1])
    return kept


def reaction_text(
    formula: str, reactant: str, vertex: dict, natoms_formula: int
) -> str:
    """``A + n R → m B + ...`` per formula unit of the material."""
    x = vertex["x"]
    atoms = natoms_formula / (1 - x)  # of the mixture per formula unit
    products = []
    for part in vertex["decomposition"]:
        reduced = Formula(part["formula"]).reduce()[0]
        amount = part["fraction"] * atoms / len(reduced)
        products.append(f"{amount:.3g} {reduced.format('metal')}")
    return f"{formula} + {atoms * x:.3g} {reactant} → " + " + ".join(products)


@instruction("asr.chc", version=0)
def main(
    atoms: Atoms, energy: float, databases: list[str], reactant: str = "O"
) -> ConvexHullCutResult:
    """Stability of `atoms` (total `energy`, eV) against reaction with `reactant`.

    `databases` hold the reference rows, among them the pure reactant.
    """
    from ase.data import chemical_symbols

    if isinstance(databases, (str, Path)):
        raise ValueError("databases must be a list of database paths")
    if not databases:
        raise ValueError("give at least one reference database")
    if len(atoms) == 0:
        raise ValueError("a structure without atoms has no formation energy")
    if not math.isfinite(energy):
        raise ValueError(f"the energy must be a finite number, not {energy}")
    count = atoms.symbols.formula.count()
    if reactant not in chemical_symbols[1:]:
        raise ValueError(f"the reactant must be a chemical element, not {reactant!r}")
    if reactant in count:
        raise ValueError(
            f"{reactant} is in the material already: choose a reactant it lacks"
        )
    elements = [*sorted(count), reactant]
    found = read_references([str(p) for p in databases], elements)
    potentials = chemical_potentials(found, elements)
    for ref in found:
        ref["hform"] = formation_energy(ref.pop("count"), ref["energy"], potentials)
    hform = formation_energy(count, energy, potentials)
    formula = atoms.get_chemical_formula(mode="metal")
    material = {
        "formula": formula,
        "natoms": len(atoms),
        "energy": float(energy),
        "hform": float(hform),
        "database": None,
        "id": None,
        "uid": None,
    }
    # Pure elements first, in order, so the hull's axes follow `elements`.
    references = sorted(
        [*found, material],
        key=lambda r: (
            len(Formula(r["formula"]).count()),
            [elements.index(s) for s in sorted(Formula(r["formula"]).count())],
        ),
    )
    diagram = phase_diagram(references)
    for ref, flag in zip(references, diagram.hull, strict=True):
        ref["on_hull"] = bool(flag)

    natoms = len(atoms)
    start = np.array([count.get(s, 0) / natoms for s in diagram.symbols])
    end = np.array([float(s == reactant) for s in diagram.symbols])
    cut = without_straight_points(hull_along(diagram, references, start, end))
    ehull = hform - cut[0]["hform"]
    dmu, best = 0.0, None
    for vertex in cut[1:-1]:
        x = vertex["x"]
        value = (vertex["hform"] - (1 - x) * hform) / x
        if value < dmu:
            dmu, best = value, vertex
    reduced, factor = Formula(formula).reduce()
    return ConvexHullCutResult(
        formula=formula,
        reactant=reactant,
        hform=float(hform),
        ehull=float(ehull),
        dmu_reactant=float(dmu),
        reaction=""
        if best is None
        else reaction_text(reduced.format("metal"), reactant, best, natoms // factor),
        cut=cut,
        references=references,
    )
