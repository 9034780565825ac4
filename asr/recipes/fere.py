"""FERE: fitted elemental reference energies that reproduce measured enthalpies.

Computed formation energies suffer from errors of the elemental phases (e.g.
the over-binding of O2 by PBE). Following Stevanović et al. (Phys. Rev. B 85,
115104, 2012), the recipe fits one energy per element, mu_X (eV/atom), by
linear least squares so that the formation energies of the compounds,
``(E - sum_X n_X mu_X) / N``, match the experimental ones. Each compound is
the lowest-energy row of the reference database with its reduced formula;
pure elements with an enthalpy of 0 may be included as ordinary data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.formula import Formula

from asr.core import Result, instruction, key
from asr.recipes.common import open_database


@dataclass
class FereResult(Result):
    title = "Fitted elemental reference energies"
    elements: list = field(metadata=key("Elements of the fit"))
    fere: dict = field(metadata=key("Fitted energy per atom of each element", "eV"))
    dft: dict = field(
        metadata=key(
            "Lowest energy per atom of each pure element in the database "
            "(None when absent)",
            "eV",
        )
    )
    shifts: dict = field(
        metadata=key("Fitted minus database elemental energy (None when absent)", "eV")
    )
    compounds: list = field(
        metadata=key(
            "Compounds: formula, database id and uid, natoms, energy (eV), "
            "experimental, fitted and uncorrected formation energies (eV/atom)"
        )
    )
    rmse: float = field(
        metadata=key("Root mean square error of the fitted enthalpies", "eV/atom")
    )
    max_error: float = field(
        metadata=key("Largest error of the fitted enthalpies", "eV/atom")
    )
    rmse_dft: float | None = field(
        metadata=key(
            "Root mean square error with the database's elemental energies "
            "(None when an element has no row)",
            "eV/atom",
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot()
        experiment = [c["hexp"] for c in self.compounds]
        limits = [experiment]
        if self.rmse_dft is not None:
            dft = [c["hdft"] for c in self.compounds]
            ax.plot(experiment, dft, "s", color="C0", label="elemental rows")
            limits.append(dft)
        fitted = [c["hfere"] for c in self.compounds]
        limits.append(fitted)
        ax.plot(experiment, fitted, "o", color="C1", label="FERE")
        for compound in self.compounds:
            ax.annotate(compound["formula"], (compound["hexp"], compound["hfere"]))
        low = min(min(values) for values in limits) - 0.1
        high = max(max(values) for values in limits) + 0.1
        ax.plot([low, high], [low, high], "k-", lw=0.8)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.set_xlabel("Experimental formation enthalpy (eV/atom)")
        ax.set_ylabel("Calculated formation energy (eV/atom)")
        ax.set_title(f"FERE fit: RMSE {self.rmse:.3f} eV/atom")
        ax.legend(loc="best")
        fig.tight_layout()
        path = folder / "fere.png"
        fig.savefig(path, dpi=100)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["fere.png"]
        return panel


def reduced(formula: str) -> str:
    return Formula(formula).reduce()[0].format("metal")


def lowest_rows(database: str, formulas: list[str]) -> dict[str, dict]:
    """The lowest-energy-per-atom row of each reduced formula."""
    wanted = {reduced(f): f for f in formulas}
    best: dict[str, dict] = {}
    for row in open_database(database).select():
        energy = row.get("energy")
        if energy is None:
            continue
        name = reduced(row.formula)
        if name not in wanted and len(row.count_atoms()) > 1:
            continue
        entry = {
            "formula": row.formula,
            "id": int(row.id),
            "uid": row.get("uid"),
            "natoms": int(row.natoms),
            "energy": float(energy),
            "count": row.count_atoms(),
        }
        old = best.get(name)
        if old is None or energy / row.natoms < old["energy"] / old["natoms"]:
            best[name] = entry
    return best


@instruction("asr.fere", version=0)
def main(database: str, experimental: dict[str, float]) -> FereResult:
    """Fit elemental energies so compounds match `experimental` (eV/atom)."""
    if not isinstance(experimental, dict) or not experimental:
        raise ValueError(
            "experimental must be a dict of formation enthalpies in eV/atom, "
            "e.g. {'ZnO': -1.81}"
        )
    for formula, value in experimental.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"the enthalpy of {formula} is not a number: {value!r}")
    rows = lowest_rows(str(database), list(experimental))
    missing = [f for f in experimental if reduced(f) not in rows]
    if missing:
        raise ValueError(
            f"no row with an energy in {database} for {', '.join(missing)}"
        )
    compounds = [
        {**rows[reduced(f)], "hexp": float(experimental[f])} for f in experimental
    ]
    elements = sorted({s for c in compounds for s in c["count"]})
    fractions = np.array(
        [[c["count"].get(s, 0) / c["natoms"] for s in elements] for c in compounds]
    )
    per_atom = np.array([c["energy"] / c["natoms"] for c in compounds])
    hexp = np.array([c["hexp"] for c in compounds])
    if np.linalg.matrix_rank(fractions) < len(elements):
        raise ValueError(
            f"{len(compounds)} compounds cannot fix the energies of "
            f"{len(elements)} elements ({', '.join(elements)}): add compounds "
            "with other ratios of the elements"
        )
    mu, *_ = np.linalg.lstsq(fractions, per_atom - hexp, rcond=None)
    hfere = per_atom - fractions @ mu
    dft = {}
    for element in elements:
        pure = rows.get(element)
        dft[element] = None if pure is None else pure["energy"] / pure["natoms"]
    have_dft = all(v is not None for v in dft.values())
    hdft = (
        per_atom - fractions @ np.array([dft[s] for s in elements])
        if have_dft
        else None
    )
    for i, compound in enumerate(compounds):
        del compound["count"]
        compound["hfere"] = float(hfere[i])
        compound["hdft"] = None if hdft is None else float(hdft[i])
    fere = {s: float(m) for s, m in zip(elements, mu, strict=True)}
    errors = hfere - hexp
    return FereResult(
        elements=elements,
        fere=fere,
        dft=dft,
        shifts={s: None if dft[s] is None else fere[s] - dft[s] for s in elements},
        compounds=compounds,
        rmse=float(np.sqrt(np.mean(errors**2))),
        max_error=float(np.abs(errors).max()),
        rmse_dft=None if hdft is None else float(np.sqrt(np.mean((hdft - hexp) ** 2))),
    )
