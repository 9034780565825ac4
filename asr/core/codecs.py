"""How the types scientists pass around are stored: Atoms, paths, dataclasses.

Each type is registered with the store's codec under a tag, with explicit
to/from-data functions (never pickle). Types registered here are the only
ones a store can bring back to life; anything else decodes as `Tagged`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from ase import Atoms

from asr.store import register_type

# Keys of Atoms.info that describe provenance, not the structure.
IGNORED_INFO = frozenset(
    {"unique_id", "key_value_pairs", "data", "user", "ctime", "mtime"}
)


def atoms_to_data(atoms: Atoms) -> dict[str, Any]:
    data: dict[str, Any] = {
        "numbers": np.asarray(atoms.numbers, dtype=np.int64),
        "positions": np.asarray(atoms.positions, dtype=float),
        "cell": np.asarray(atoms.cell.array, dtype=float),
        "pbc": np.asarray(atoms.pbc, dtype=bool),
    }
    if atoms.has("initial_magmoms"):
        data["magmoms"] = np.asarray(atoms.get_initial_magnetic_moments(), dtype=float)
    if atoms.has("initial_charges"):
        data["charges"] = np.asarray(atoms.get_initial_charges(), dtype=float)
    if atoms.constraints:
        data["constraints"] = [c.todict() for c in atoms.constraints]
    info = {k: v for k, v in atoms.info.items() if k not in IGNORED_INFO}
    if info:
        data["info"] = info
    return data


def atoms_from_data(data: dict[str, Any]) -> Atoms:
    atoms = Atoms(
        numbers=data["numbers"],
        positions=data["positions"],
        cell=data["cell"],
        pbc=data["pbc"],
        magmoms=data.get("magmoms"),
        charges=data.get("charges"),
        info=data.get("info"),
    )
    if "constraints" in data:
        from ase.constraints import dict2constraint  # pulls in SciPy: only here

        atoms.set_constraint([dict2constraint(c) for c in data["constraints"]])
    return atoms


def register_dataclass(cls: type, tag: str | None = None) -> type:
    """Make a dataclass storable (as its fields); usable as a decorator."""
    tag = tag or f"dataclass:{cls.__module__}.{cls.__qualname__}"
    names = [f.name for f in dataclasses.fields(cls)]

    def to_data(obj):
        return {name: getattr(obj, name) for name in names}

    def from_data(data):
        return cls(**data)

    register_type(cls, tag, to_data, from_data)
    return cls


def _register_builtin_types() -> None:
    register_type(Atoms, "ase.Atoms", atoms_to_data, atoms_from_data)
    for cls in (type(Path()), PurePath, type(PurePath())):
        register_type(cls, "path", str, Path)


_register_builtin_types()
