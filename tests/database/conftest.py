"""Trees of material folders filled by real instructions (EMT, spglib).

Each material folder holds a structure.json and the Records of the
instructions run inside it: `asr.structureinfo`, an EMT energy that depends
on a relaxation and on reference energies made at the top of the tree (a
Record made outside any material folder, so it only travels as a
dependency), and a file result. One Record per folder is migrated, so it has
two revisions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from asr.core import File, Record, Result, Revision, instruction, key, use_store
from asr.recipes.structureinfo import main as structureinfo
from asr.store import DiskStore, init_store


@dataclass
class EnergyResult(Result):
    title = "EMT energy"
    emt_energy: float = field(metadata=key("EMT energy", "eV", database=True))
    emt_energy_per_atom: float = field(
        metadata=key("EMT energy per atom", "eV/atom", database=True)
    )
    emt_formation: float = field(
        metadata=key("EMT energy above the elements", "eV/atom", database=True)
    )
    energy: float = field(
        metadata=key("Energy (ASE's own energy column)", "eV", database=True)
    )
    fmax: float = field(
        metadata=key("Largest force (a key ASE reserves)", "eV/Å", database=True)
    )


@dataclass
class RelaxResult(Result):
    title = "EMT scaling"
    atoms: Atoms = field(metadata=key("Scaled structure"))
    scale: float = field(metadata=key("Lattice scaling", database=True))
    log: File = field(metadata=key("Log file"))


@instruction("test.database.reference")
def reference(symbol: str) -> float:
    """EMT energy per atom of an element in its fcc bulk."""
    atoms = bulk(symbol, "fcc", a={"Cu": 3.6, "Al": 4.05, "Ni": 3.52}[symbol])
    atoms.calc = EMT()
    return float(atoms.get_potential_energy()) / len(atoms)


@instruction("test.database.relax")
def relax(atoms: Atoms, scale: float = 1.01) -> RelaxResult:
    """Scale the cell (a stand-in for a relaxation); writes a log file."""
    scaled = atoms.copy()
    scaled.set_cell(atoms.cell * scale, scale_atoms=True)
    Path("relax.log").write_text(f"scaled by {scale}\n")
    return RelaxResult(atoms=scaled, scale=scale, log=File("relax.log"))


@instruction("test.database.emt")
def emt(atoms: Atoms) -> EnergyResult:
    """EMT energy of the relaxed structure, relative to the elements."""
    relaxed = relax(atoms).result.atoms
    relaxed.calc = EMT()
    energy = float(relaxed.get_potential_energy())
    elements = sum(reference(s).result for s in relaxed.get_chemical_symbols())
    return EnergyResult(
        emt_energy=energy,
        emt_energy_per_atom=energy / len(relaxed),
        emt_formation=(energy - elements) / len(relaxed),
        energy=energy,
        fmax=0.0,
    )


MATERIALS: dict[str, Atoms] = {
    "Cu": bulk("Cu", "fcc", a=3.6),
    "Cu-cubic": bulk("Cu", "fcc", a=3.6, cubic=True),
    "Al": bulk("Al", "fcc", a=4.05),
    "CuAl": bulk("CuAl", "rocksalt", a=4.2),
    "Ni": bulk("Ni", "fcc", a=3.52),
}


@dataclass
class Tree:
    top: Path
    store: DiskStore
    folders: list[Path]

    def names(self) -> list[str]:
        return [os.path.relpath(f, self.top) for f in self.folders]


def migrate(store: DiskStore, record: Record, description: str) -> Record:
    """A new revision of `record` (as a migration would write it)."""
    payload = record.to_payload()
    payload["revision"] = Revision(
        "test-migration", "test.database:migrate", description, []
    ).to_data()
    payload["metadata"] = dict(record.metadata, migrated=description)
    head = store.get(record.oid)
    obj = store.commit(payload, uid=record.uid, parent=record.oid, index=head.index)
    return Record.from_stored(obj)


def make_tree(
    top: Path, materials: dict[str, Atoms] | None = None, folder: str = "materials"
) -> Tree:
    """A store at `top` and one folder per material under `top/folder`."""
    materials = MATERIALS if materials is None else materials
    top.mkdir(parents=True, exist_ok=True)
    store = init_store(top)
    folders = []
    here = Path.cwd()
    with use_store(store):
        os.chdir(top)
        try:
            for symbol in ("Cu", "Al", "Ni"):
                reference(symbol)  # made at the top: a dependency only
            for name, atoms in materials.items():
                path = top / folder / name
                path.mkdir(parents=True)
                os.chdir(path)
                atoms.write("structure.json")
                structureinfo(atoms)
                emt(atoms)
                relaxed = relax.lookup(relax.arguments(atoms), store)
                migrate(store, relaxed, "Note where the log went")
                folders.append(path)
        finally:
            os.chdir(here)
    return Tree(top, store, folders)


@pytest.fixture
def tree(tmp_path) -> Iterator[Tree]:
    built = make_tree(tmp_path / "tree")
    with use_store(built.store):
        yield built


def snapshot(name) -> dict[str, dict]:
    """What a database holds, by folder: keys, Records, links, structure."""
    from ase.db import connect

    from asr.database import read_bundle

    found = {}
    for row in connect(name).select():
        bundle = read_bundle(row.data["asr"]["bundle"])
        found[row.folder] = {
            "pairs": dict(row.key_value_pairs),
            "refs": dict(bundle.refs),
            "objects": sorted(bundle.objects),
            "links": list(row.data.get("links", [])),
            "numbers": row.numbers.tolist(),
            "positions": row.positions.tolist(),
            "cell": row.cell.tolist(),
            "pbc": row.pbc.tolist(),
            "unique_id": row.unique_id,
        }
    return found


@pytest.fixture(name="snapshot")
def snapshot_fixture():
    """`snapshot(db)`: a database's content by folder, for comparisons."""
    return snapshot


@pytest.fixture(name="make_tree")
def make_tree_fixture():
    """`make_tree(top, materials, folder)`: another tree, for a second database."""
    return make_tree
