"""`merge` and `split`: inverse of each other; rows of a material merge."""

from __future__ import annotations

import dataclasses

import ase.db
import pytest

from asr.core import Record
from asr.core.cache import all_records
from asr.database import DatabaseError, fromtree, merge, read_bundle, split


def emt_record(tree, folder: str) -> Record:
    return next(
        r
        for r in all_records(tree.store)
        if r.name == "test.database.emt" and r.metadata["directory"] == folder
    )


def revise(tree, record: Record, emt_energy: float, parent=None) -> Record:
    """A new revision of an EMT Record with another energy."""
    payload = record.to_payload()
    payload["result"] = dataclasses.replace(record.result, emt_energy=emt_energy)
    head = tree.store.get(record.oid)
    obj = tree.store.commit(
        payload, uid=record.uid, parent=parent or record.oid, index=head.index
    )
    return Record.from_stored(obj)


def test_split_then_merge_gives_the_rows_back(tree, tmp_path, snapshot):
    whole = tmp_path / "project.db"
    fromtree(tree.folders, whole)
    parts = split(whole, 3)
    assert [p.rsplit("/", 1)[1] for p in parts] == [
        "project-1.db",
        "project-2.db",
        "project-3.db",
    ]
    assert [ase.db.connect(p).count() for p in parts] == [2, 2, 1]
    assert all(
        ase.db.connect(p).metadata == ase.db.connect(whole).metadata for p in parts
    )
    report = merge(parts, tmp_path / "merged.db")
    assert (report.rows, report.merged, report.conflicts) == (5, 0, [])
    assert snapshot(tmp_path / "merged.db") == snapshot(whole)
    assert list(snapshot(tmp_path / "merged.db")) == list(snapshot(whole))
    merged, original = (ase.db.connect(p) for p in (tmp_path / "merged.db", whole))
    assert merged.metadata == original.metadata
    for a, b in zip(merged.select(sort="id"), original.select(sort="id")):
        assert (a.ctime, a.user, a.unique_id) == (b.ctime, b.user, b.unique_id)
        assert a.data == b.data


def test_split_into_more_parts_than_rows(tree, tmp_path, snapshot):
    fromtree(tree.folders[:2], tmp_path / "p.db")
    parts = split(tmp_path / "p.db", 12, out_prefix=str(tmp_path / "part"))
    assert parts[0].endswith("part01.db") and parts[-1].endswith("part12.db")
    assert sum(ase.db.connect(p).count() for p in parts) == 2
    merge(parts, tmp_path / "m.db")
    assert snapshot(tmp_path / "m.db") == snapshot(tmp_path / "p.db")


def test_merge_of_different_materials(tree, tmp_path, snapshot):
    fromtree(tree.folders[:2], tmp_path / "a.db")
    fromtree(tree.folders[2:], tmp_path / "b.db")
    fromtree(tree.folders, tmp_path / "all.db")
    merge([tmp_path / "a.db", tmp_path / "b.db"], tmp_path / "c.db")
    assert snapshot(tmp_path / "c.db") == snapshot(tmp_path / "all.db")


@pytest.mark.parametrize("order", ["old-new", "new-old"])
def test_merge_keeps_the_newer_revision(tree, tmp_path, order):
    name = tree.names()[3]
    fromtree(tree.folders, tmp_path / "old.db")
    old = emt_record(tree, name)
    new = revise(tree, old, emt_energy=-42.0)
    fromtree(tree.folders, tmp_path / "new.db")
    dbs = [tmp_path / "old.db", tmp_path / "new.db"]
    if order == "new-old":
        dbs.reverse()
    report = merge(dbs, tmp_path / "merged.db")
    assert (report.rows, report.merged, report.conflicts) == (5, 5, [])
    row = ase.db.connect(tmp_path / "merged.db").get(folder=name)
    assert read_bundle(row.data["asr"]["bundle"]).refs[new.uid] == new.oid
    assert row.emt_energy == -42.0  # key-value pairs recomputed
    assert row.spgnum == 225


def test_diverged_revisions_are_a_conflict(tree, tmp_path):
    name = tree.names()[0]
    base = emt_record(tree, name)
    first = revise(tree, base, emt_energy=-1.0)
    fromtree(tree.folders, tmp_path / "a.db")
    tree.store.set_ref(base.uid, base.oid, expected=first.oid)
    second = revise(tree, base, emt_energy=-2.0)
    fromtree(tree.folders, tmp_path / "b.db")
    report = merge([tmp_path / "a.db", tmp_path / "b.db"], tmp_path / "c.db")
    assert len(report.conflicts) == 1
    assert report.conflicts[0].folder == name
    assert first.oid in report.conflicts[0].message
    assert second.oid in report.conflicts[0].message
    row = ase.db.connect(tmp_path / "c.db").get(folder=name)
    assert read_bundle(row.data["asr"]["bundle"]).refs[base.uid] == first.oid
    assert row.emt_energy == -1.0


def test_merge_joins_links_and_other_data(tree, tmp_path):
    fromtree(tree.folders[:1], tmp_path / "a.db")
    fromtree(tree.folders[:1], tmp_path / "b.db")
    name = tree.names()[0]
    for db_name, link in (("a.db", "one"), ("b.db", "two")):
        db = ase.db.connect(tmp_path / db_name)
        row = db.get(folder=name)
        db.update(
            row.id,
            data={"links": [{"name": link, "url": f"https://x/{link}"}], db_name: 1},
            note=db_name,
        )
    merge([tmp_path / "a.db", tmp_path / "b.db"], tmp_path / "c.db")
    row = ase.db.connect(tmp_path / "c.db").get(folder=name)
    assert [x["name"] for x in row.data["links"]] == ["one", "two"]
    assert (row.data["a.db"], row.data["b.db"], row.note) == (1, 1, "a.db")


def test_split_needs_a_prefix_for_an_address(tmp_path):
    with pytest.raises(DatabaseError, match="--out-prefix"):
        split("postgresql://nobody@localhost:1/none", 2)


def test_merge_and_split_never_overwrite_their_input(tree, tmp_path):
    fromtree(tree.folders[:2], tmp_path / "a.db")
    fromtree(tree.folders[2:], tmp_path / "b.db")
    with pytest.raises(DatabaseError, match="one of the databases to merge"):
        merge([tmp_path / "a.db", tmp_path / "b.db"], tmp_path / "a.db", force=True)
    (tmp_path / "a.db").rename(tmp_path / "a1.db")
    with pytest.raises(DatabaseError, match="one of its own parts"):
        split(tmp_path / "a1.db", 1, out_prefix=str(tmp_path / "a"), force=True)
    assert ase.db.connect(tmp_path / "a1.db").count() == 2
