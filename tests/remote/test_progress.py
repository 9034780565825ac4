"""Long transfers report their progress: bars on a terminal, or a listener's."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from asr.core import transfer
from asr.store import init_store
from asr.store.progress import reporting

from .project import add, project
from .test_mirror import packed_store


class Recorder:
    """A listener that keeps each task's description, total, unit and sum."""

    def __init__(self):
        self.tasks: list[dict] = []

    @contextmanager
    def __call__(self, description: str, total: int | None, unit: str):
        task = {"what": description, "total": total, "unit": unit, "done": 0}
        self.tasks.append(task)

        def advance(n: int = 1) -> None:
            task["done"] += n

        yield advance

    def named(self, description: str) -> list[dict]:
        return [t for t in self.tasks if t["what"] == description]


def test_a_clone_reports_the_bytes_of_its_packs_and_then_objects(tmp_path):
    a = packed_store(tmp_path / "a")
    add(a, ["loose one"])  # negotiated after the packs, object by object
    pack_bytes = sum(p.stat().st_size for p in a.pack_dir.glob("*.pack"))
    recorder = Recorder()
    with reporting(recorder):
        _, report = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    (packs,) = recorder.named("Receiving packs")
    assert packs == {
        "what": "Receiving packs",
        "total": pack_bytes,
        "unit": "bytes",
        "done": pack_bytes,
    }
    (objects,) = recorder.named("Receiving objects")
    assert objects["total"] == objects["done"] == 3  # use, make and the blob
    assert report.objects == 60 * 2 + 3  # each packed Record and its blob


def test_push_and_bundles_count_their_objects(tmp_path):
    project(tmp_path / "a", ["x"])
    b, _ = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    add(b, ["y", "z"])
    recorder = Recorder()
    with reporting(recorder):
        pushed = transfer.push(b, "origin")
        records, written = transfer.bundle_create(b, tmp_path / "all.bundle")
        read, _ = transfer.unbundle(init_store(tmp_path / "c"), tmp_path / "all.bundle")
    (sent,) = recorder.named("Sending objects")
    assert sent["total"] == sent["done"] == pushed.objects == 6
    (writing,) = recorder.named("Writing objects")
    assert writing["total"] == writing["done"] == written == 9
    (reading,) = recorder.named("Reading objects")
    assert reading["total"] is None and reading["done"] == read == 9


def test_no_listener_no_report(tmp_path):
    """Outside `reporting`, a transfer tells nobody (and a listener of one
    block is gone after it)."""
    recorder = Recorder()
    with reporting(recorder):
        pass
    project(tmp_path / "a", ["x"])
    transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    assert recorder.tasks == []


def test_asr_clone_draws_bars_on_a_terminal_only(tmp_path):
    """`asr clone` in a terminal (a pty, as `script` gives it) draws its
    bars on stderr; into a pipe it prints its one line only."""
    project(tmp_path / "a", ["x", "y"])
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    asr = f"{sys.executable} -m asr.cli.main"
    command = f"{asr} clone {tmp_path / 'a'} {tmp_path / 'b'}"
    in_terminal = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "Receiving objects" in in_terminal.stdout
    assert "Cloned 4 Records (6 objects)" in in_terminal.stdout
    piped = subprocess.run(
        [*asr.split(), "clone", str(tmp_path / "a"), str(tmp_path / "c")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert piped.stderr == "" and "Receiving" not in piped.stdout
    assert Path(tmp_path / "c" / ".asr").is_dir()
