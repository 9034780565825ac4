"""Point defects in a supercell: vacancies and antisites.

For every symmetry-inequivalent site (spglib's equivalent atoms) of the input
structure the recipe makes a vacancy ``v_X`` and, for every other element Y of
the structure, an antisite ``Y_X`` (Y on the site of X). When an element has
several inequivalent sites they are numbered: ``v_O1``, ``v_O2``. The default
supercell repeats the cell along its periodic axes until each lattice vector
is at least 8 Å long (in-plane only for a 2D material).

`charge_states` are the net charges (in units of e: +1 is one electron
removed) each defect is to be computed in by `asr.defectformation`. The
structures do not depend on them. The default is the neutral state alone:
each further state is a full supercell calculation, and without an
electrostatic finite-size correction charged formation energies in small
supercells carry errors of tenths of an eV. The C2DB defect project
(Bertoldo et al., npj Comput. Mater. 8, 56 (2022)) asks for -2..+2, i.e.
``charge_states=(-2, -1, 0, 1, 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.data.colors import jmol_colors

from asr.core import Result, instruction, key
from asr.core.migration import Migration, MigrationSelector, Selector
from asr.recipes.common import check_2d

MIN_LENGTH = 8.0  # Å: shortest lattice vector of the default supercell


@dataclass
class DefectsResult(Result):
    title = "Point defects"
    structures: list = field(metadata=key("Supercells, each with one defect"))
    names: list = field(metadata=key("Name of each defect, e.g. v_S or Mo_S"))
    sites: np.ndarray = field(metadata=key("Index of each defect's site in pristine"))
    pristine: Atoms = field(metadata=key("Supercell without defects"))
    supercell: tuple = field(metadata=key("Repetitions of the input cell"))
    charge_states: tuple = field(
        default=(0,),
        metadata=key("Net charges to compute every defect in, ascending", "e"),
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atoms = self.pristine
        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot()
        x, y = atoms.positions[:, 0], atoms.positions[:, 1]
        order = np.argsort(atoms.positions[:, 2])
        ax.scatter(
            x[order],
            y[order],
            s=300 * covalent_radii[atoms.numbers[order]] ** 2,
            c=jmol_colors[atoms.numbers[order]],
            edgecolors="k",
        )
        labels: dict[int, list[str]] = {}
        for name, site in zip(self.names, self.sites, strict=True):
            labels.setdefault(int(site), []).append(name)
        for site, names in labels.items():
            ax.scatter(x[site], y[site], s=500, facecolors="none", edgecolors="r")
            ax.annotate(
                ", ".join(names),
                (x[site], y[site]),
                xytext=(12, 12),
                textcoords="offset points",
                color="r",
                fontsize=8,
            )
        corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]])
        outline = corners @ atoms.cell.array[:2, :2]
        ax.plot(outline[:, 0], outline[:, 1], "k-", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")
        ax.set_title(f"Defect sites in the {'x'.join(map(str, self.supercell))} cell")
        path = folder / "defects.png"
        fig.savefig(path, dpi=100)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["defects.png"]
        return panel


def default_supercell(atoms: Atoms, min_length: float = MIN_LENGTH) -> tuple:
    """Repetitions making each periodic lattice vector at least `min_length`."""
    lengths = atoms.cell.lengths()
    return tuple(
        max(1, math.ceil(min_length / length - 1e-9)) if periodic else 1
        for length, periodic in zip(lengths, atoms.pbc, strict=True)
    )


def equivalent_atoms(atoms: Atoms, symprec: float) -> list[int]:
    """For each atom the representative of its symmetry orbit (spglib)."""
    import spglib  # imported when used: keeps `asr list` quick

    if atoms.cell.rank == 3:
        dataset = spglib.get_symmetry_dataset(
            (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
            symprec=symprec,
        )
        if dataset is not None:
            return [int(i) for i in dataset.equivalent_atoms]
    return list(range(len(atoms)))


def site_orbits(atoms: Atoms, symprec: float) -> list[int]:
    """One representative atom index per symmetry-inequivalent site."""
    return sorted(set(equivalent_atoms(atoms, symprec)))


def orbit_size(atoms: Atoms, site: int, symprec: float = 1e-3) -> int:
    """Number of atoms of `atoms` equivalent to `site`: sites per cell."""
    orbits = equivalent_atoms(atoms, symprec)
    return orbits.count(orbits[site])


def defect_names(atoms: Atoms, sites: list[int]) -> list[tuple[str, int, str | None]]:
    """(name, site, substituting element or None for a vacancy) per defect."""
    symbols = atoms.get_chemical_symbols()
    elements = sorted(set(symbols), key=symbols.index)
    defects = []
    for site in sites:
        host = symbols[site]
        same = [s for s in sites if symbols[s] == host]
        label = host if len(same) == 1 else f"{host}{same.index(site) + 1}"
        defects.append((f"v_{label}", site, None))
        for other in elements:
            if other != host:
                defects.append((f"{other}_{label}", site, other))
    return defects


def checked_charges(charge_states) -> tuple[int, ...]:
    """Distinct integer charges in ascending order, the neutral one among them."""
    charges = tuple(sorted(set(charge_states)))
    if not all(isinstance(q, (int, np.integer)) for q in charges) or 0 not in charges:
        raise ValueError(
            f"charge_states must be integers including 0, not {charge_states}: "
            "the neutral state is every defect's reference"
        )
    return tuple(int(q) for q in charges)


def neutral_only(record):
    """Version 0 knew neutral defects only: its calls were charge_states=(0,)."""
    # Its Result decodes with the key's default, charge_states=(0,).
    record.arguments = {**record.arguments, "charge_states": (0,)}
    record.version = 1
    return record


MIGRATIONS = [
    MigrationSelector(
        Selector(name="asr.setup.defects", version=0),
        Migration("asr.setup.defects:0-1", "Neutral charge state only", neutral_only),
    )
]


@instruction("asr.setup.defects", version=1, migrations=MIGRATIONS)
def main(
    atoms: Atoms,
    supercell: tuple[int, int, int] | None = None,
    vacancies: bool = True,
    antisites: bool = True,
    symprec: float = 1e-3,
    charge_states: Annotated[tuple[int, ...], "e"] = (0,),
) -> DefectsResult:
    """Vacancies and antisites of `atoms` in a `supercell` (default ≥ 8 Å).

    `charge_states` (units of e, must include 0) are recorded for
    `asr.defectformation`; the structures are the same for all of them.
    """
    charges = checked_charges(charge_states)
    if len(atoms) == 0:
        raise ValueError("cannot make defects in a structure without atoms")
    check_2d(atoms)
    if not (vacancies or antisites):
        raise ValueError("asked for neither vacancies nor antisites")
    if supercell is None:
        supercell = default_supercell(atoms)
    supercell = tuple(supercell)
    if len(supercell) != 3 or not all(
        isinstance(n, (int, np.integer)) and n >= 1 for n in supercell
    ):
        raise ValueError(f"supercell must be three positive integers, not {supercell}")
    for n, periodic, axis in zip(supercell, atoms.pbc, "abc", strict=True):
        if n > 1 and not periodic:
            raise ValueError(f"cannot repeat along the non-periodic axis {axis}")
    pristine = atoms.repeat(supercell)
    m0, m1, m2 = supercell
    middle = len(atoms) * ((m0 // 2) * m1 * m2 + (m1 // 2) * m2 + m2 // 2)
    structures, names, sites = [], [], []
    for name, unit_site, element in defect_names(atoms, site_orbits(atoms, symprec)):
        site = middle + unit_site  # the copy nearest the middle of the supercell
        defect = pristine.copy()
        if element is None:
            if not vacancies:
                continue
            del defect[site]
        else:
            if not antisites:
                continue
            defect[site].symbol = element
        structures.append(defect)
        names.append(name)
        sites.append(site)
    return DefectsResult(
        structures=structures,
        names=names,
        sites=np.array(sites, dtype=int),
        pristine=pristine,
        supercell=tuple(int(n) for n in supercell),
        charge_states=charges,
    )
