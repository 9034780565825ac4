"""`asr bundle create/unbundle`: one file, verified before any ref moves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asr.core import transfer
from asr.store import init_store
from asr.store.transfer import TransferError

from .conftest import assert_clean, run
from .project import heads, project


def test_bundle_brings_selection_with_dependencies_and_blobs(tmp_path):
    a = project(tmp_path / "a", ["x", "y"])
    records, objects = transfer.bundle_create(
        a, tmp_path / "x.bundle", ["name=test.remote.use", "arguments.text=x"]
    )
    assert (records, objects) == (2, 3)  # use(x), make(x) and the blob of out.txt
    b = init_store(tmp_path / "b")
    count, outcome = transfer.unbundle(b, tmp_path / "x.bundle")
    assert count == 3 and len(outcome.created) == 2
    got = heads(b)
    assert got == {u: o for u, o in heads(a).items() if u in got}
    from asr.core import Record

    names = {Record.from_stored(b.get(o)).name for o in got.values()}
    assert names == {"test.remote.use", "test.remote.make"}
    make = next(o for o in got.values() if b.get(o).payload["name"].endswith("make"))
    assert b.get_blob(b.get(make).payload["result"]["file"].blob) == b"x"
    assert_clean(a, b)
    # Again: nothing new, nothing moves.
    count, outcome = transfer.unbundle(b, tmp_path / "x.bundle")
    assert len(outcome.same) == 2 and not outcome.created


def _damaged(path: Path, how: str) -> Path:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) * 2 // 3]
    else:  # one flipped byte inside the objects
        data[len(data) // 2] ^= 0x40
    out = path.with_name(f"{how}.bundle")
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_bundle_moves_no_ref_and_a_good_one_completes(tmp_path, how):
    a = project(tmp_path / "a", ["some text that fills a blob " * 40, "y"])
    good = tmp_path / "all.bundle"
    transfer.bundle_create(a, good)
    b = init_store(tmp_path / "b")
    with pytest.raises(TransferError):
        transfer.unbundle(b, _damaged(good, how))
    assert heads(b) == {}
    assert_clean(b)
    transfer.unbundle(b, good)
    assert heads(b) == heads(a)
    assert_clean(b)


def test_bundle_commands(tmp_path, monkeypatch):
    project(tmp_path / "a", ["x"])
    monkeypatch.chdir(tmp_path / "a")
    out = run("bundle", "create", str(tmp_path / "p.bundle")).output
    assert "Bundled 2 Records (3 objects)" in out
    init_store(tmp_path / "b")
    monkeypatch.chdir(tmp_path / "b")
    out = run("bundle", "unbundle", str(tmp_path / "p.bundle")).output
    assert "Received 3 objects" in out and "2 created" in out
    assert "2 records" in run("cache", "ls").output


def test_damaged_bundle_is_one_error_line(tmp_path):
    a = project(tmp_path / "a", ["x"])
    transfer.bundle_create(a, tmp_path / "p.bundle")
    bad = _damaged(tmp_path / "p.bundle", "truncated")
    init_store(tmp_path / "b")
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "bundle", "unbundle", str(bad)],
        cwd=tmp_path / "b",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
