"""Dimensionality: is the material made of 0D, 1D, 2D or 3D bonded components?

ASE's `ase.geometry.dimensionality` (Larsen et al., Phys. Rev. Materials 3,
034003, 2019) joins atoms that are closer than ``k`` times the sum of their
covalent radii and follows the bonded clusters as ``k`` grows. Each
dimensionality type (``"2D"``, ``"3D"``, mixtures such as ``"02D"``) scores
the range of ``k`` over which it holds; the scores sum to one and the highest
is the primary dimensionality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from asr.core import Result, instruction, key

METHODS = ("RDA", "TSA")


@dataclass
class DimensionalityResult(Result):
    title = "Dimensionality analysis"
    dim_primary: str = field(
        metadata=key(
            "Dimensionality type with the highest score",
            database=True,
            label="Dimensionality",
            priority=95,
        )
    )
    dim_primary_score: float = field(
        metadata=key("Score of the primary dimensionality type", database=True)
    )
    dim_score_0D: float = field(metadata=key("Score of the 0D type", database=True))
    dim_score_1D: float = field(metadata=key("Score of the 1D type", database=True))
    dim_score_2D: float = field(metadata=key("Score of the 2D type", database=True))
    dim_score_3D: float = field(metadata=key("Score of the 3D type", database=True))
    scores: dict = field(metadata=key("Score of every type found, e.g. {'2D': 0.9}"))
    intervals: list = field(
        metadata=key(
            "k-intervals: type, score, kmin, kmax, component histogram (0D-3D)"
        )
    )
    method: str = field(metadata=key("Component analysis method (RDA or TSA)"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(6, 4))
        bars, spans = fig.subplots(2, 1, height_ratios=(2, 1))
        types = list(self.scores)
        bars.bar(types, [self.scores[t] for t in types], color="C0")
        bars.set_ylabel("Score")
        bars.set_ylim(0, 1)
        bars.set_title(f"Primary dimensionality: {self.dim_primary}")
        finite = [i["kmax"] for i in self.intervals if math.isfinite(i["kmax"])]
        kend = max([1.5, *finite]) + 0.25
        for n, interval in enumerate(sorted(self.intervals, key=lambda i: i["kmin"])):
            kmax = min(interval["kmax"], kend)
            spans.axvspan(interval["kmin"], kmax, color=f"C{n % 10}", alpha=0.5)
            spans.text(
                (interval["kmin"] + kmax) / 2,
                0.5,
                interval["type"],
                ha="center",
                va="center",
            )
        spans.set_xlim(0, kend)
        spans.set_yticks([])
        spans.set_xlabel("k (bond cutoff / sum of covalent radii)")
        fig.tight_layout()
        path = folder / "dimensionality.png"
        fig.savefig(path, dpi=100)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["dimensionality.png"]
        return panel


@instruction("asr.dimensionality", version=0)
def main(atoms: Atoms, method: str = "RDA") -> DimensionalityResult:
    """Dimensionality scores of the bonded components of `atoms`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {METHODS}")
    if len(atoms) == 0:
        raise ValueError("a structure without atoms has no dimensionality")
    if atoms.pbc.any() and atoms.cell.rank < sum(atoms.pbc):
        raise ValueError("every periodic direction needs a cell vector")
    from ase.geometry.dimensionality import analyze_dimensionality  # SciPy

    found = analyze_dimensionality(atoms, method=method, merge=True)
    intervals = [
        {
            "type": interval.dimtype,
            "score": float(interval.score),
            "kmin": float(interval.a),
            "kmax": float(interval.b),
            "histogram": [int(n) for n in interval.h],
        }
        for interval in found
    ]
    scores = {i["type"]: i["score"] for i in intervals}
    return DimensionalityResult(
        dim_primary=intervals[0]["type"],
        dim_primary_score=intervals[0]["score"],
        dim_score_0D=scores.get("0D", 0.0),
        dim_score_1D=scores.get("1D", 0.0),
        dim_score_2D=scores.get("2D", 0.0),
        dim_score_3D=scores.get("3D", 0.0),
        scores=scores,
        intervals=intervals,
        method=method,
    )
