"""Formation energies of neutral point defects (vacancies and antisites).

The defects come from `asr.setup.defects`: each in a supercell of the host.
With `relax` the atoms of every supercell (also the pristine one) are relaxed
in a fixed cell (`asr.relax`). The total energies are those of `asr.gs` for
a GPAW calculator, else of the given calculator (e.g. EMT). The formation
energy of a neutral defect is

    E_f = E_defect - E_pristine - Σ_i n_i μ_i,

where n_i atoms of element i were added (n_i < 0: removed) and μ_i is its
chemical potential. Without `chemical_potentials` each μ_i is the energy per
atom of the element's standard solid (ASE's reference state, cell and atoms
relaxed with `asr.relax`): the element-rich limit. Elements whose standard
state is not a solid (H, N, O, ...) need their μ given.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW_FORCES, calculator_for
from .setup.defects import main as setup_defects


@dataclass
class DefectFormationResult(Result):
    title = "Defect formation energies"
    names: list = field(metadata=key("Name of each defect, e.g. v_S or Mo_S"))
    formation_energies: np.ndarray = field(
        metadata=key("Formation energy of each neutral defect", "eV")
    )
    defect_energies: np.ndarray = field(
        metadata=key("Total energy of each defect supercell", "eV")
    )
    pristine_energy: float = field(
        metadata=key("Total energy of the pristine supercell", "eV")
    )
    chemical_potentials: dict = field(
        metadata=key("Chemical potential of each element", "eV/atom")
    )
    supercell: tuple = field(metadata=key("Repetitions of the input cell"))
    min_formation_energy: float = field(
        metadata=key("Lowest formation energy of the defects", "eV", database=True)
    )
    most_stable_defect: str = field(
        metadata=key("Defect with the lowest formation energy", database=True)
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        n = len(self.names)
        fig = Figure(figsize=(max(4, 0.6 * n + 2), 3.5))
        ax = fig.subplots()
        colors = ["C0" if name.startswith("v_") else "C1" for name in self.names]
        ax.bar(range(n), self.formation_energies, color=colors)
        ax.set_xticks(range(n), self.names, rotation=45, ha="right")
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_ylabel("formation energy [eV]")
        ax.set_title("neutral defects (blue: vacancies, orange: antisites)")
        fig.tight_layout()
        path = Path(folder) / "defectformation.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["defectformation.png"]
        return panel


def is_gpaw(calculator: dict) -> bool:
    return str(calculator.get("name", "")).lower() == "gpaw"


@instruction("asr.defectformation.energy", version=0)
def energy(atoms: Atoms, calculator: dict) -> float:
    """Total energy of `atoms` with a calculator other than GPAW (eV)."""
    atoms = atoms.copy()
    atoms.calc = calculator_for(atoms, calculator)
    return float(atoms.get_potential_energy())


def total_energy(atoms: Atoms, calculator: dict) -> float:
    """From `asr.gs` for GPAW, else from the calculator itself."""
    if is_gpaw(calculator):
        from .gs import main as groundstate

        return float(groundstate(atoms, calculator).result.energy)
    return float(energy(atoms, calculator).result)


def relaxed(atoms: Atoms, calculator: dict, fmax: float, fix_cell: bool) -> Atoms:
    from .relax import main as relax

    return relax(
        atoms,
        calculator=calculator,
        fmax=fmax,
        fix_cell=fix_cell,
        allow_symmetry_breaking=fix_cell,
    ).result.atoms


def elemental_potential(symbol: str, calculator: dict, fmax: float) -> float:
    """Energy per atom of the relaxed standard solid of `symbol`."""
    from ase.build import bulk

    try:
        solid = bulk(symbol)
    except (ValueError, KeyError, RuntimeError) as err:
        raise ValueError(
            f"{symbol} has no solid reference state in ASE ({err}): give its "
            f"chemical potential, e.g. chemical_potentials={{{symbol!r}: -4.9}}"
        ) from None
    solid = relaxed(solid, calculator, fmax, fix_cell=False)
    return total_energy(solid, calculator) / len(solid)


def composition_change(pristine: Atoms, defect: Atoms) -> Counter:
    """n_i: atoms of each element added (negative: removed)."""
    change = Counter(defect.get_chemical_symbols())
    change.subtract(Counter(pristine.get_chemical_symbols()))
    return change


@instruction("asr.defectformation", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    supercell: tuple | None = None,
    vacancies: bool = True,
    antisites: bool = True,
    relax: bool = True,
    fmax: float = 0.01,
    chemical_potentials: dict | None = None,
) -> DefectFormationResult:
    """Formation energies of the vacancies and antisites of `atoms`.

    `supercell` (default: lattice vectors of at least 8 Å) and the kinds of
    defect go to `asr.setup.defects`; with `relax` the positions are relaxed
    to forces below `fmax` (eV/Å). `chemical_potentials` maps element symbols
    to μ in eV/atom; missing elements get their standard solid's energy.
    """
    defects = setup_defects(
        atoms, supercell=supercell, vacancies=vacancies, antisites=antisites
    ).result
    pristine = defects.pristine
    potentials = {k: float(v) for k, v in (chemical_potentials or {}).items()}
    elements = sorted(set(atoms.get_chemical_symbols()))
    for symbol in elements:
        if symbol not in potentials:
            potentials[symbol] = elemental_potential(symbol, calculator, fmax)

    def energy_of(structure: Atoms) -> float:
        if relax:
            structure = relaxed(structure, calculator, fmax, fix_cell=True)
        return total_energy(structure, calculator)

    e_pristine = energy_of(pristine)
    energies, formation = [], []
    for structure in defects.structures:
        e_defect = energy_of(structure)
        change = composition_change(pristine, structure)
        reservoir = sum(n * potentials[symbol] for symbol, n in change.items())
        energies.append(e_defect)
        formation.append(e_defect - e_pristine - reservoir)
    formation_energies = np.array(formation)
    best = int(np.argmin(formation_energies))
    return DefectFormationResult(
        names=list(defects.names),
        formation_energies=formation_energies,
        defect_energies=np.array(energies),
        pristine_energy=float(e_pristine),
        chemical_potentials={k: potentials[k] for k in sorted(potentials)},
        supercell=tuple(defects.supercell),
        min_formation_energy=float(formation_energies[best]),
        most_stable_defect=defects.names[best],
    )
