"""`fromtree`: one row per material folder, readable with ASE's own tools."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ase.db
import pytest

from asr.core import Result, instruction, key
from asr.core.cache import all_records
from asr.database import DatabaseError, fromtree, read_bundle, row_records
from asr.recipes.database.treelinks import material_uid


@dataclass
class LabelResult(Result):
    label: str = field(metadata=key("A label", database=True))


@instruction("test.database.label")
def label(text: str) -> LabelResult:
    return LabelResult(label=text)


def test_rows_hold_structure_keys_records(tree, tmp_path):
    report = fromtree(tree.folders, tmp_path / "project.db", workers=2)
    assert (report.rows, report.skipped) == (5, [])
    db = ase.db.connect(tmp_path / "project.db")
    assert db.count() == 5
    made_in: dict[str, set[str]] = {}
    for record in all_records(tree.store):
        made_in.setdefault(record.metadata["directory"], set()).add(record.uid)
    for row, name in zip(db.select(sort="id"), tree.names()):
        assert row.folder == name
        assert row.unique_id == material_uid(name)
        assert row.spgnum in (225, 221) and row.dimensionality == 3
        assert row.emt_energy == pytest.approx(row.emt_energy_per_atom * row.natoms)
        assert row.scale == 1.01
        assert "energy" not in row.key_value_pairs  # ASE's own column:
        assert row.energy == pytest.approx(row.emt_energy)
        assert "fmax" not in row.key_value_pairs  # reserved by ASE, dropped
        bundle = read_bundle(row.data["asr"]["bundle"])
        assert row.data["asr"]["format"] == 1
        assert set(bundle.refs) == made_in[name]
        records = row_records(row)
        names = {r.name for r in records}
        assert names == {
            "asr.structureinfo",
            "test.database.emt",
            "test.database.relax",
        }
        # dependencies (the reference energies made at the top) come along
        dependencies = {d.revision for r in records for d in r.dependencies}
        assert len(dependencies) >= 2 and dependencies <= set(bundle.objects)
    assert sum(len(uids) for d, uids in made_in.items() if d != ".") == report.records
    meta = db.metadata
    assert meta["key_descriptions"]["emt_energy"] == ["EMT energy", "EMT energy", "eV"]
    assert meta["key_descriptions"]["folder"][0] == "Folder"
    # Ranked keys (key(..., priority=)) are the default columns, in order.
    assert meta["key_priority"] == {"spacegroup": 10}
    assert meta["default_columns"] == ["formula", "spacegroup"]
    assert meta["key_descriptions"]["spacegroup"] == [
        "Space group",
        "Space group symbol",
        "",
    ]
    dropped = {p.message for p in report.warnings}
    assert any("'fmax'" in m for m in dropped)
    assert not any("'energy'" in m for m in dropped)
    assert db.count("energy>-1e9") == 5  # a column ASE can search


def test_structure_round_trips_exactly(tree, tmp_path):
    from ase.io import read

    fromtree(tree.folders, tmp_path / "project.db", workers=1)
    for row in ase.db.connect(tmp_path / "project.db").select():
        assert row.toatoms() == read(tree.top / row.folder / "structure.json")


def test_newest_record_of_a_recipe_gives_the_keys(tree, tmp_path):
    folder = tree.folders[0]
    os.chdir(folder)
    label("old")
    label("new")
    label("old")  # a cache hit: the older Record stays the older
    os.chdir(tmp_path)
    fromtree([folder], tmp_path / "project.db")
    row = ase.db.connect(tmp_path / "project.db").get(folder=tree.names()[0])
    assert row.label == "new"
    assert sum(r.name == "test.database.label" for r in row_records(row)) == 2


def test_bad_folders_are_reported_and_skipped(tree, tmp_path):
    broken = tree.top / "materials" / "broken"
    broken.mkdir()
    (broken / "structure.json").write_text("{not json")
    empty = tree.top / "materials" / "empty"
    empty.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "structure.json").write_text(
        tree.folders[0].joinpath("structure.json").read_text()
    )
    folders = [*tree.folders[:2], broken, empty, outside, tmp_path / "missing"]
    report = fromtree(folders, tmp_path / "project.db", workers=2)
    assert report.rows == 2
    reasons = {p.folder: p.message for p in report.skipped}
    assert reasons["materials/broken"].startswith("cannot read structure.json")
    assert reasons["materials/empty"] == "no structure.json"
    assert reasons[str(outside)] == "no ASR store at or above it"
    assert reasons[str(tmp_path / "missing")] == "not a folder"
    assert ase.db.connect(tmp_path / "project.db").count() == 2


def test_other_structure_file_name(tree, tmp_path):
    for folder in tree.folders:
        (folder / "structure.json").rename(folder / "unrelaxed.json")
    report = fromtree(tree.folders, tmp_path / "p.db", structure="unrelaxed.json")
    assert report.rows == 5


def test_workers_do_not_change_the_rows(tree, tmp_path, snapshot):
    fromtree(tree.folders, tmp_path / "one.db", workers=1)
    fromtree(tree.folders, tmp_path / "two.db", workers=2)
    assert snapshot(tmp_path / "one.db") == snapshot(tmp_path / "two.db")


def test_existing_database_needs_force(tree, tmp_path, snapshot):
    out = tmp_path / "project.db"
    fromtree(tree.folders[:2], out)
    with pytest.raises(DatabaseError, match="already holds rows"):
        fromtree(tree.folders, out)
    assert fromtree(tree.folders, out, force=True).rows == 5
    assert len(snapshot(out)) == 5


def test_output_needs_a_db_suffix(tree, tmp_path):
    with pytest.raises(DatabaseError, match="ending in .db"):
        fromtree(tree.folders, tmp_path / "project")


def test_ase_db_command_lists_rows_and_keys(tree, tmp_path):
    fromtree(tree.folders, tmp_path / "project.db")
    ase_command = Path(sys.executable).with_name("ase")
    listing = subprocess.run(
        [str(ase_command), "db", "project.db", "-c", "id,formula,folder,spgnum"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Rows: 5" in listing
    keys_line = next(line for line in listing.splitlines() if line.startswith("Keys:"))
    for name in ("folder", "spgnum", "emt_energy", "crystal_type"):
        assert name in keys_line
    for name in tree.names():
        assert name in listing
    one = subprocess.run(
        [str(ase_command), "db", "project.db", "folder=materials/CuAl", "--long"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "AB-225-ab" in one and "emt_formation" in one


def test_results_of_unknown_classes_give_no_keys(tree, tmp_path):
    from asr.core import Record
    from asr.store import Tagged

    record = Record(
        name="other.recipe",
        version=0,
        arguments={},
        result=Tagged("result:elsewhere.GapResult", {"gap": 1.5}),
        metadata={"directory": tree.names()[0], "start": 2e9},
    )
    tree.store.commit(record.to_payload())
    report = fromtree(tree.folders[:1], tmp_path / "p.db")
    assert report.rows == 1 and report.records == 4
    row = ase.db.connect(tmp_path / "p.db").get(id=1)
    assert "gap" not in row.key_value_pairs and row.spgnum == 225


def test_same_folder_name_in_two_trees(tree, tmp_path, make_tree):
    from ase.build import bulk

    other = make_tree(tmp_path / "other", {"Cu": bulk("Cu", "fcc", a=3.6)})
    report = fromtree([*tree.folders[:1], *other.folders], tmp_path / "p.db")
    assert report.rows == 1
    (problem,) = report.skipped
    assert problem.message == f"materials/Cu is also a folder of {tree.top}"
