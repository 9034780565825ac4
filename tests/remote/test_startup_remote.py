"""`asr remote serve` and a pull without a selection start light.

ssh starts `asr remote serve` anew for every fetch and push, so what it
imports is paid on each; a pull without a selection moves ids and bytes
only. Each runs in a fresh Python process that reports at exit which of
the packages below it imported. (numpy is not among them: the store reads
its tables with it, and every store after a gc, a clone or a bulk import
has tables.)
"""

from __future__ import annotations

from io import BytesIO

from asr.core import transfer
from asr.store import open_store
from asr.store.pack import gc
from asr.store.transfer import read_message, write_message

from .project import add, heads, project

NOT_NEEDED = ("rich", "ase", "scipy", "matplotlib", "gpaw", "asr.core", "asr.recipes")


def test_remote_serve_imports_no_presentation_nor_recipes(tmp_path, imported):
    a = project(tmp_path / "a", ["x", "y"])
    gc(a, background=False)  # packs and tables, as a store usually is
    said = BytesIO()
    for op, args in [("hello", {}), ("refs", {"known": []}), ("bye", {})]:
        write_message(said, {"op": op, "args": args})
    where = str(tmp_path / "a")
    found, out = imported(
        tmp_path, NOT_NEEDED, "remote", "serve", where, stdin=said.getvalue()
    )
    assert found == []
    answers = BytesIO(out)
    assert read_message(answers) == {"value": {"format": 1}}
    assert len(read_message(answers)["value"]["tables"]) == 1  # it answered


def test_pull_without_selection_imports_no_recipes(tmp_path, imported):
    a = project(tmp_path / "a", ["x"])
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    b.close()
    add(a, ["y", "z"])
    found, out = imported(tmp_path / "b", NOT_NEEDED, "pull")
    assert b"Records: 4 created" in out, out
    assert [m for m in found if not m.startswith("rich")] == []  # rich prints
    assert heads(open_store(tmp_path / "b")) == heads(a)
