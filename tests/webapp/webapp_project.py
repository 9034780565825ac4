"""A small project database made by running real instructions.

Rows hold atoms, key-value pairs and ``data = {"asr": {"format": 1, "bundle":
...}, "links": [...]}``, the bundle packed from a MemoryStore the
instructions wrote into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, mx2
from ase.db import connect
from ase.db.core import now, reserved_keys
from ase.db.row import AtomsRow

from asr.core import Result, instruction, key, use_store
from asr.database import pack_records
from asr.recipes.structureinfo import main as structureinfo
from asr.store import MemoryStore

SCRIPT = "<script>alert('x')</script>"
NFILLER = 36  # rows without Records, for paging and sorting


@dataclass
class GapResult(Result):
    title = "Band gap"
    gap: float = field(metadata=key("Band gap of the model", "eV", database=True))
    vbm: float = field(metadata=key("Valence band maximum", "eV"))
    kind: str = field(metadata=key("Direct or indirect gap", database=True))
    energies: np.ndarray = field(metadata=key("Band energies", "eV"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        DRAWN.append(self.gap)
        fig = Figure(figsize=(4, 3))
        ax = fig.add_subplot()
        ax.plot(self.energies, "o-")
        ax.axhline(self.vbm, color="k", lw=0.8)
        ax.set_ylabel("Energy [eV]")
        path = Path(folder) / "bands.png"
        fig.savefig(path, dpi=60)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["bands.png"]
        return panel


DRAWN: list[float] = []  # one entry per figure drawn


@dataclass
class NastyResult(Result):
    title = f"Nasty {SCRIPT}"
    note: str = field(metadata=key(f"A description with {SCRIPT}"))

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["table"].append(
            {
                "key": f"key{SCRIPT}",
                "value": f"value{SCRIPT}",
                "unit": "<b>u</b>",
                "description": "<img src=x onerror=alert(1)>",
            }
        )
        return panel


@dataclass
class SketchResult(Result):
    """Figures not named by the webpanel, named but not drawn, or failing."""

    title = "Sketches"
    mode: str = field(metadata=key("What figures() does"))

    def figures(self, folder: Path) -> list[Path]:
        if self.mode == "fail":
            raise RuntimeError("cannot draw")
        if self.mode == "none":
            return []
        path = Path(folder) / "sketch.svg"
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["title"] = f"Sketch {self.mode}"
        if self.mode != "undeclared":
            panel["figures"] = ["sketch.svg"]
        return panel


@instruction("test.webapp.sketch")
def sketch(atoms: Atoms, mode: str) -> SketchResult:
    """Figures in three ways."""
    return SketchResult(mode=mode)


@instruction("test.webapp.gap")
def gap(atoms: Atoms, shift: float = 0.0) -> GapResult:
    """Band gap of a structure (a made-up model)."""
    info = structureinfo(atoms).result  # a dependency of this Record
    value = 0.5 + 0.1 * info.natoms + shift
    return GapResult(
        gap=value,
        vbm=-1.0,
        kind="direct" if info.dimensionality == 2 else "indirect",
        energies=np.linspace(-3, 3, 7),
    )


@instruction("test.webapp.nasty")
def nasty(atoms: Atoms) -> NastyResult:
    """An instruction whose Result is full of markup."""
    return NastyResult(note=SCRIPT)


@instruction("test.webapp.plain")
def plain(atoms: Atoms) -> dict:
    """An instruction returning plain data, not a Result."""
    return {"count": len(atoms), "label": "plain data"}


def bundle(*records) -> dict:
    store = records[0][0]
    return {"format": 1, "bundle": pack_records(store, [r.uid for _, r in records])}


def write(db, atoms: Atoms, unique_id: str, data: dict, **pairs) -> int:
    """A row with a chosen unique_id (ASE makes a random one otherwise)."""
    row = AtomsRow(atoms)
    row.unique_id = unique_id
    row.ctime = now()
    row.user = "tester"
    pairs = {k: v for k, v in pairs.items() if k not in reserved_keys}
    return db.write(row, key_value_pairs=pairs, data=data)


def make_project(path: Path) -> Path:
    """The test database: MoS2 and Si with Records, a nasty row, sketches, fillers."""
    store = MemoryStore()
    mos2 = mx2("MoS2", vacuum=7.5)
    si = bulk("Si")
    with use_store(store):
        mos2_records = [
            (store, structureinfo(mos2)),
            (store, gap(mos2)),
            (store, plain(mos2)),
        ]
        si_records = [(store, structureinfo(si)), (store, gap(si))]
        nasty_records = [(store, nasty(si))]
        sketch_records = [
            (store, sketch(si, mode)) for mode in ("undeclared", "none", "fail")
        ]
    db = connect(path)
    mos2_uid, si_uid = "mos2-uid", "si-uid"
    pairs = {}
    for _, record in mos2_records[:2]:
        pairs.update(record.result.database_keys())
    write(
        db,
        mos2,
        mos2_uid,
        ehull=0.0,
        magstate="nm",
        **pairs,
        data={
            "asr": bundle(*mos2_records),
            "links": [
                {"name": "Si (bulk)", "description": "Another material", "uid": si_uid},
                {"name": "C2DB entry", "uid": "abc", "db": "c2db"},
                {"name": "Paper", "url": "https://example.org/paper"},
                {"name": "Evil", "url": "javascript:alert(1)"},
            ],
        },
    )
    pairs = {}
    for _, record in si_records:
        pairs.update(record.result.database_keys())
    write(
        db,
        si,
        si_uid,
        ehull=0.05,
        magstate="nm",
        **pairs,
        data={"asr": bundle(*si_records), "links": [mos2_uid]},
    )
    write(
        db,
        Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[5, 5, 5]),
        "nasty-uid",
        note=SCRIPT,
        gap=9.5,
        magstate=SCRIPT,
        data={"asr": bundle(*nasty_records)},
    )
    write(
        db,
        Atoms("He", cell=[3, 3, 3], pbc=True),
        "sketch-uid",
        data={"asr": bundle(*sketch_records)},
    )
    rng = np.random.default_rng(7)
    for i in range(NFILLER):
        db.write(
            Atoms(
                "CuAu", positions=[[0, 0, 0], [1.3, 1.3, 1.3]], cell=[2.6] * 3, pbc=True
            ),
            gap=float(np.round(rng.uniform(0, 4), 3)),
            ehull=float(np.round(rng.uniform(0, 0.3), 3)),
            magstate=["nm", "fm", "afm"][i % 3],
            spgnum=int(i % 7 + 1),
        )
    db.metadata = {
        "title": "Test project",
        "key_descriptions": {
            "gap": ["Gap", "Band gap from the model", "eV"],
            "ehull": ["Hull energy", "Energy above the convex hull", "eV/atom"],
            "note": [f"Note {SCRIPT}", f"Long {SCRIPT}", ""],
        },
        "default_columns": ["id", "formula", "gap", "magstate"],
        "link_databases": {"c2db": "https://c2db.example.org/material/{uid}"},
    }
    return path
