"""A flipped byte is found: by every read, and by fsck."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asr.store import CorruptObjectError, DiskStore, hash_bytes, init_store
from asr.store.fsck import fsck
from asr.store.pack import gc


def flip_byte(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)  # objects are written read-only
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))


@pytest.fixture
def filled(tmp_path):
    store = init_store(tmp_path)
    blob = store.put_blob(b"the contents of a .gpw file\n" * 100)
    record = store.commit({"gpw": blob, "energy": -3.25})
    other = store.commit({"energy": 1.0})
    return store, {"blob": blob, "record": record.oid}, record.uid, other


@pytest.mark.parametrize("layout", ["loose", "packed"])
@pytest.mark.parametrize("target", ["blob", "record"])
def test_flipped_byte_is_found(filled, layout, target):
    store, oids, uid, other = filled
    oid = oids[target]
    if layout == "packed":
        gc(store)
        store = DiskStore(store.root)
    path, offset, length = store.locate(oid)  # loose: a file, or in a commit log
    assert store.get(oid).oid == oid
    flip_byte(path, offset + length // 2)
    with open(path, "rb") as f:
        f.seek(offset)
        actual = hash_bytes(f.read(length))

    store = DiskStore(store.root)
    with pytest.raises(CorruptObjectError) as info:
        store.get(oid)
    error = info.value
    assert (error.oid, error.expected, error.actual) == (oid, oid, actual)
    assert actual != oid
    assert oid in str(error) and actual in str(error)
    expected_where = "pack" if layout == "packed" else str(path)
    assert expected_where in error.where
    with pytest.raises(CorruptObjectError):
        store.get_raw(oid)
    if target == "record":
        with pytest.raises(CorruptObjectError):
            store.head(uid)
    # Other objects are not affected.
    assert store.head(other.uid).payload == {"energy": 1.0}

    report = fsck(store)
    assert not report.ok
    assert len(report.errors) == 1
    assert oid in report.errors[0] and actual in report.errors[0]


def test_fsck_of_a_healthy_store(filled):
    store, oids, uid, other = filled
    report = fsck(store)
    assert report.ok, report.errors
    assert report.objects == 3 and report.refs == 2
    assert report.unreachable == []
    gc(store)
    report = fsck(DiskStore(store.root))
    assert report.ok and report.objects == 3 and report.unreachable == []


def test_flipped_byte_in_a_pack_index(filled):
    store, oids, uid, other = filled
    gc(store)
    (table_path,) = store.pack_dir.glob("*.table")
    flip_byte(table_path, table_path.stat().st_size // 2)
    report = fsck(DiskStore(store.root))
    assert not report.ok
    assert any(table_path.name in e for e in report.errors)
    with pytest.raises(CorruptObjectError):
        DiskStore(store.root).get(oids["blob"])


def test_missing_objects_are_errors(filled):
    store, oids, uid, other = filled
    os.remove(store.loose_path(oids["blob"]))
    report = fsck(store)
    assert not report.ok
    assert any(oids["blob"] in e and "missing" in e for e in report.errors)
    missing = hash_bytes(b"never stored")
    store._ref_path(uid).parent.mkdir(exist_ok=True)
    store._ref_path(uid).write_text(f"{missing}\n")  # a ref to a missing object
    report = fsck(store)
    assert any(f"ref {uid}" in e and "missing" in e for e in report.errors)
