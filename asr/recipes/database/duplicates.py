"""Duplicates: groups of rows of an ASE database that hold the same structure.

Rows are compared when they have the same reduced formula, the same periodic
directions and equal values of the `comparison_keys` (e.g. ``["magstate"]``).
Two rows are duplicates when their RMSD (``asr.database.rmsd``: primitive
cells matched atom by atom, cells included) is at most `rmsd_tol`; groups are
closed under that relation (a duplicate of a duplicate is in the group). Each
group keeps the row with the lowest energy per atom, or the lowest id when
some row has no energy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from asr.core import Result, instruction, key
from asr.recipes.common import open_database

from .rmsd import compare, prepare


@dataclass
class DuplicatesResult(Result):
    title = "Duplicate structures"
    database: str = field(
        metadata=key("Database whose rows were compared (absolute path)")
    )
    groups: list = field(
        metadata=key("Row ids of each group of duplicates, the kept one first")
    )
    keep: list = field(metadata=key("Row id kept from each group"))
    remove: list = field(metadata=key("Row ids that duplicate a kept row"))
    pairs: list = field(metadata=key("Duplicate pairs: [id1, id2, rmsd in Å]"))
    nrows: int = field(metadata=key("Number of rows compared"))


class _Groups:
    """Union-find over row ids."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)

    def groups(self) -> list[list[int]]:
        members = defaultdict(list)
        for i in self.parent:
            members[self.find(i)].append(i)
        return [sorted(g) for g in members.values() if len(g) > 1]


def _choose(group: list[int], energies: dict[int, float | None]) -> int:
    if any(energies[i] is None for i in group):
        return min(group)
    return min(group, key=lambda i: (energies[i], i))


@instruction("asr.database.duplicates", version=0)
def main(
    database: str,
    rmsd_tol: float = 0.3,
    comparison_keys: tuple[str, ...] = (),
    symprec: float = 0.1,
) -> DuplicatesResult:
    """Group the rows of `database` whose structures are within `rmsd_tol` (Å)."""
    if not rmsd_tol >= 0:
        raise ValueError(f"rmsd_tol must be zero or positive, not {rmsd_tol}")
    if isinstance(comparison_keys, str):
        raise ValueError("comparison_keys must be a list of key names")
    db = open_database(database)
    buckets: dict[tuple, list] = defaultdict(list)
    energies: dict[int, float | None] = {}
    nrows = 0
    for row in db.select():
        nrows += 1
        atoms = row.toatoms()
        energy = row.get("energy")
        energies[row.id] = None if energy is None else energy / row.natoms
        values = tuple(repr(row.get(k)) for k in comparison_keys)
        bucket = (
            atoms.symbols.formula.reduce()[0].format("hill"),
            tuple(bool(p) for p in atoms.pbc),
            values,
        )
        buckets[bucket].append((row.id, prepare(atoms, symprec)))
    groups = _Groups()
    pairs = []
    for rows in buckets.values():
        for n, (id1, first) in enumerate(rows):
            for id2, second in rows[n + 1 :]:
                rmsd = compare(first, second)
                if rmsd is not None and rmsd <= rmsd_tol:
                    groups.join(id1, id2)
                    pairs.append([id1, id2, rmsd])
    found = []
    for group in sorted(groups.groups()):
        kept = _choose(group, energies)
        found.append([kept, *(i for i in group if i != kept)])
    return DuplicatesResult(
        database=str(Path(database).resolve()),
        groups=found,
        keep=[g[0] for g in found],
        remove=sorted(i for g in found for i in g[1:]),
        pairs=pairs,
        nrows=nrows,
    )
