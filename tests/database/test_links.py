"""Links: `asr.database.treelinks` and `asr.database.crosslinks`."""

from __future__ import annotations

import json

import ase.db
from ase.build import bulk

from asr.database import fromtree, totree
from asr.recipes.database.crosslinks import database_name, link_databases
from asr.recipes.database.treelinks import link_tree, material_uid, reduced_formula


def links_of(folder) -> list[dict]:
    path = folder / "links.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_reduced_formula():
    assert reduced_formula(bulk("Cu", cubic=True)) == "Cu"
    assert reduced_formula("S4Mo2") == "MoS2"


def test_treelinks_link_folders_with_the_same_formula(tree, tmp_path):
    cu, cu_cubic = tree.folders[0], tree.folders[1]
    (cu / "links.json").write_text(
        json.dumps([{"name": "paper", "description": "", "url": "https://doi.org/x"}])
    )
    report = link_tree(tree.folders)
    assert report.skipped == []
    result = report.record.result
    assert result.nlinks == 2 and result.formulas["materials/CuAl"] == "AlCu"
    assert [x["name"] for x in links_of(cu)] == ["paper", "materials/Cu-cubic"]
    assert links_of(cu_cubic) == [
        {
            "name": "materials/Cu",
            "description": "Another structure of Cu in this tree",
            "uid": material_uid("materials/Cu"),
        }
    ]
    assert all(links_of(f) == [] for f in tree.folders[2:])
    again = link_tree(tree.folders)
    assert again.record.uid == report.record.uid  # a cache hit
    assert again.written == []

    fromtree(tree.folders, tmp_path / "project.db")
    db = ase.db.connect(tmp_path / "project.db")
    row = db.get(folder="materials/Cu-cubic")
    (link,) = row.data["links"]
    assert db.get(unique_id=link["uid"]).folder == "materials/Cu"


def test_treelinks_skip_unreadable_folders(tree):
    (tree.folders[0] / "structure.json").write_text("nonsense")
    report = link_tree(tree.folders)
    assert [path for path, _why in report.skipped] == [tree.folders[0]]
    assert report.record.result.nlinks == 0


def test_crosslinks_between_databases(tree, tmp_path, make_tree):
    other = make_tree(
        tmp_path / "other",
        {"Cu": bulk("Cu", "fcc", a=3.6), "Ni3": bulk("Ni", "fcc", a=3.52) * (3, 1, 1)},
        folder="c2db",
    )
    link_tree(tree.folders)
    fromtree(tree.folders, tmp_path / "mine.db")
    fromtree(other.folders, tmp_path / "c2db.db")
    assert database_name(tmp_path / "c2db.db") == "c2db"
    assert database_name("postgresql://me@host:5432/c2db") == "c2db"

    report = link_databases(str(tmp_path / "mine.db"), [str(tmp_path / "c2db.db")])
    assert (report.record.result.nlinks, report.updated) == (3, 3)
    db = ase.db.connect(tmp_path / "mine.db")
    cu = db.get(folder="materials/Cu")
    tree_link, cross_link = cu.data["links"]
    assert tree_link["name"] == "materials/Cu-cubic"
    assert cross_link == {
        "name": "c2db/Cu (c2db)",
        "description": "Cu in the database c2db",
        "db": "c2db",
        "uid": material_uid("c2db/Cu"),
    }
    ni = db.get(folder="materials/Ni")
    assert [x["uid"] for x in ni.data["links"]] == [material_uid("c2db/Ni3")]
    assert "links" not in db.get(folder="materials/Al").data

    again = link_databases(str(tmp_path / "mine.db"), [str(tmp_path / "c2db.db")])
    assert again.record.uid == report.record.uid and again.updated == 0

    totree(tmp_path / "mine.db", tmp_path / "rebuilt")
    assert links_of(tmp_path / "rebuilt" / "materials" / "Ni") == ni.data["links"]
