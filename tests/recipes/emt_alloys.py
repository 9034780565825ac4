"""EMT energies of Cu-Au-Ag alloys: the reference databases of the hull tests."""

from pathlib import Path

from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.db import connect


def ordered_fcc(symbols: str, a: float) -> Atoms:
    """A conventional fcc cell with the four atoms named by `symbols`."""
    scaled = [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    return Atoms(symbols, scaled_positions=scaled, cell=[a, a, a], pbc=True)


def emt_energy(atoms: Atoms) -> float:
    atoms.calc = EMT()
    return atoms.get_potential_energy()


def write_references(path: Path, extra: list[Atoms] = ()) -> dict[str, float]:
    """A database of Cu, Au, Ag, some fcc orderings and `extra`, with their
    EMT energies; the energies per atom by formula."""
    db = connect(path)
    per_atom = {}
    for atoms in [
        bulk("Cu", "fcc", a=3.6),
        bulk("Au", "fcc", a=4.08),
        bulk("Ag", "fcc", a=4.09),
        ordered_fcc("AuCu3", 3.75),
        ordered_fcc("CuAu3", 3.97),
        ordered_fcc("Ag2Au2", 4.08),
        *extra,
    ]:
        energy = emt_energy(atoms)
        db.write(atoms, uid=atoms.get_chemical_formula())
        per_atom[atoms.get_chemical_formula()] = energy / len(atoms)
    return per_atom
