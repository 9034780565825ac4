"""The store-level commands: init, show, log, cat-object, gc, fsck, cache."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from itertools import count
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.text import Text

from asr.cli import render
from asr.cli.common import user_error_message
from asr.cli.main import AsrGroup, cli
from asr.store import IndexTerms, MemoryStore, digest, init_store

# A fixed, colourless terminal: output is the same everywhere.
TERMINAL = {"COLUMNS": "100", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def one_error_line(stderr: str) -> str:
    """The stderr of a failed command: exactly one `Error: ...` line."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def terms(name: str, value: float) -> IndexTerms:
    exact = digest(f"{name} {value}".encode())
    return IndexTerms(exact, digest(name.encode()), [value])


@pytest.fixture
def store():
    return init_store(".")


@pytest.fixture
def relax(store):
    """A record with two revisions, an array and a blob."""
    figure = store.put_blob(b"\x89PNG\r\n" + bytes(range(100)))
    first = store.commit(
        {
            "name": "demo.relax",
            "arguments": {"fmax": 0.05},
            "result": {
                "energy": -10.5,
                "positions": np.arange(12.0).reshape(4, 3),
                "figure": figure,
            },
            "metadata": {"date": "2024-05-01 12:00:00"},
        },
        index=terms("demo.relax", 0.05),
    )
    payload = dict(first.payload, metadata={"date": "2024-06-01 09:00:00"})
    payload["revision"] = {"migration": "add-units", "description": "Add units."}
    second = store.commit(payload, uid=first.uid, parent=first.oid, index=first.index)
    return first, second, figure


# -- init and errors -------------------------------------------------------------


def test_init_creates_a_store(tmp_path):
    result = run("init")
    assert result.output == f"Initialised empty ASR store in {tmp_path / '.asr'}\n"
    assert (tmp_path / ".asr" / "format").is_file()
    assert run("init").output.startswith("Reinitialised existing ASR store")
    run("init", "sub/folder")
    assert (tmp_path / "sub" / "folder" / ".asr" / "format").is_file()


def test_commands_find_the_store_above(store, relax):
    os.mkdir("deeper")
    os.chdir("deeper")
    assert "demo.relax" in run("show", relax[0].uid[:8]).output


def test_no_store_is_one_red_line(tmp_path):
    result = run("show", "abcd", exit_code=1)
    assert result.stdout == ""
    assert one_error_line(result.stderr) == (
        f"Error: no ASR store in {tmp_path} or any folder above it: "
        "run `asr init` first"
    )


def test_verbose_shows_the_traceback():
    result = run("--verbose", "show", "abcd", exit_code=1)
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: no ASR store in ")


def test_usage_errors_are_one_line(store):
    assert "Missing argument 'ID'" in one_error_line(run("show", exit_code=1).stderr)
    line = one_error_line(run("frobnicate", exit_code=1).stderr)
    assert line == "Error: No such command 'frobnicate'. (see 'asr --help')"


def test_bare_asr_prints_help():
    assert "Commands:" in run().output
    assert "reindex" in run("cache").output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("xyz!", "Error: not an id: 'xyz!'"),
        ("abc", "Error: id 'abc' is too short: give at least 4 characters"),
        ("0000", "Error: no object or record matches '0000'"),
    ],
)
def test_bad_ids(store, spec, message):
    assert one_error_line(run("show", spec, exit_code=1).stderr) == message


def test_chain_too_short(relax):
    line = one_error_line(run("show", relax[0].uid[:6] + "~5", exit_code=1).stderr)
    assert "the chain has only 2 revisions" in line


def _group_with(callback) -> click.Group:
    group = AsrGroup("asr")  # a fresh group: cli stays clean
    group.add_command(click.Command("go", callback=callback))
    return group


def test_missing_file_is_one_line():
    group = _group_with(lambda: Path("structure.json").read_text())
    result = CliRunner(env=TERMINAL).invoke(group, ["go"])
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert line == "Error: No such file or directory: structure.json"


def test_bugs_keep_their_traceback():
    def bug():
        raise RuntimeError("a bug")

    result = CliRunner(env=TERMINAL).invoke(_group_with(bug), ["go"])
    assert isinstance(result.exception, RuntimeError)


def test_user_error_messages():
    err = FileNotFoundError(2, "No such file or directory", "x.json")
    assert user_error_message(err) == "No such file or directory: x.json"
    assert user_error_message(KeyError("bug")) is None


# -- show, cat-object, log ------------------------------------------------------


def test_show_record(relax):
    first, second, figure = relax
    out = run("show", first.uid[:6]).output  # a uid names the newest revision
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == f"record  {second.oid}"
    assert lines[1] == f"uid     {first.uid}"
    assert lines[2] == f"parent  {first.oid}"
    assert lines[3].startswith("index   exact ")
    assert lines[4] == "payload"
    assert "│   ├── energy: -10.5" in out
    assert "positions: array float64 4×3 [0, 1, 2, 3, 4, 5, …]" in out
    assert f"figure: {figure} (object)" in out
    assert "description: 'Add units.'" in out


def test_show_by_object_id_and_back(relax):
    first, second, _figure = relax
    assert run("show", second.oid[:7]).output.startswith(f"record  {second.oid}")
    for spec in (f"{second.oid[:7]}~1", f"{first.uid[:7]}~", f"{first.uid}~1"):
        out = run("show", spec).output
        assert out.startswith(f"record  {first.oid}")
        assert "parent  none" in out


def test_show_blob(relax):
    out = run("show", relax[2][:5]).output
    assert out.startswith(f"blob     {relax[2]}")
    assert "content  106 bytes b'\\x89PNG\\r\\n\\x00\\x01" in out


def test_show_json(relax):
    first, second, figure = relax
    data = json.loads(run("show", "--json", first.uid).output)
    assert data["id"] == second.oid
    assert data["kind"] == "record"
    assert data["header"]["uid"] == first.uid
    assert data["header"]["parent"] == first.oid
    result = data["payload"]["result"]
    assert result["positions"] == np.arange(12.0).reshape(4, 3).tolist()
    assert result["figure"] == figure
    blob = json.loads(run("show", "--json", figure).output)
    assert blob["payload"] == {"base64": "iVBORw0K" + blob["payload"]["base64"][8:]}


def test_cat_object(store, relax):
    first, second, figure = relax
    assert run("cat-object", figure).stdout_bytes == store.get_blob(figure)
    payload = json.loads(run("cat-object", first.uid).output)
    assert payload["revision"]["migration"] == "add-units"
    raw = run("cat-object", "--canonical", second.oid).stdout_bytes
    assert raw == store.get_raw(second.oid)


def test_log(relax):
    first, second, _figure = relax
    out = run("log", first.uid[:8]).output
    assert out == (
        f"revision {second.oid} (head)\n"
        f"uid:       {first.uid}\n"
        "date:      2024-06-01 09:00:00\n"
        "migration: add-units\n"
        "\n"
        "    Add units.\n"
        "\n"
        f"revision {first.oid}\n"
        f"uid:       {first.uid}\n"
        "date:      2024-05-01 12:00:00\n"
    )
    oneline = run("log", "--oneline", second.oid).output.splitlines()
    assert oneline == [
        f"{second.oid[:12]} (head) 2024-06-01 09:00:00 Add units.",
        f"{first.oid[:12]} 2024-05-01 12:00:00",
    ]
    assert run("log", first.oid).output.startswith(f"revision {first.oid}\n")


# -- gc, fsck, cache -------------------------------------------------------------


def test_gc_then_everything_still_reads(relax):
    first, second, _figure = relax
    out = run("gc").output
    assert "Packed 3 objects; removed 3 loose copies." in out
    assert "Packed 1 loose refs." in out  # the second revision's
    assert run("gc").output.startswith("No loose objects to pack.")
    assert "merging 1 packs" in run("gc", "--repack").output
    assert run("show", second.oid[:6]).output.startswith(f"record  {second.oid}")
    assert f"revision {first.oid}" in run("log", first.uid[:6]).output
    assert run("fsck").output.endswith("No errors.\n")


def test_fsck(store, relax):
    out = run("fsck").output
    assert out == "Checked 3 objects and 1 refs.\nNo errors.\n"
    store.put_blob(b"nobody refers to me")
    out = run("--verbose", "fsck", "--repair").output
    assert "1 unreachable objects" in out
    assert "Repaired: rebuilt the index of 1 records" in out


def test_fsck_finds_corruption(store, relax):
    path = Path(store.loose_path(relax[2]))
    path.chmod(0o644)
    path.write_bytes(b"not what it was")
    result = run("fsck", exit_code=1)
    assert f"corrupt object {relax[2]}" in result.output
    assert result.output.endswith("1 errors\n")


def test_cache_reindex(store, relax):
    store.commit({"name": "other"}, index=terms("other", 1.0))
    assert run("cache", "reindex").output == "Reindexed 2 records.\n"
    assert [r.payload["name"] for r in store.find(terms("other", 1.0).exact)] == [
        "other"
    ]


# -- renderers plug in ------------------------------------------------------------


class Energy:
    def __init__(self, value):
        self.value = value


class SelfRendering:
    def __rich__(self):
        return Text("rendered by itself")


def _text(renderable) -> str:
    out = Console(width=80, record=True, file=io.StringIO())
    out.print(renderable)
    return out.export_text()


def test_renderers_plug_in(monkeypatch):
    monkeypatch.setitem(
        render._renderers, Energy, lambda e: Text(f"{e.value} eV (custom)")
    )
    text = _text(render.render_payload({"e": Energy(1.5), "s": SelfRendering()}))
    assert "1.5 eV (custom)" in text
    assert "rendered by itself" in text
    assert _text(render.render_payload(Energy(2))) == "2 eV (custom)\n"


def test_json_is_strict():
    data = render.to_json(
        {"z": np.array([1 + 2j]), "n": float("nan"), "t": (1, 2), "i": np.int64(3)}
    )
    assert data["z"] == {"real": [1.0], "imag": [2.0]}
    assert (data["n"], data["t"], data["i"]) == ("NaN", [1, 2], 3)
    json.dumps(data, allow_nan=False)


# -- real processes ---------------------------------------------------------------

ASR_SCRIPT = Path(sys.executable).with_name("asr")
ENTRY_POINTS = [[sys.executable, "-m", "asr.cli.main"]]
if ASR_SCRIPT.exists():
    ENTRY_POINTS.append([str(ASR_SCRIPT)])


def asr_process(entry: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run(
        [*entry, *args], capture_output=True, text=True, env=env, timeout=60
    )


def colliding_blobs() -> tuple[bytes, bytes, str]:
    """Two blobs whose ids start with the same four characters."""
    ids = MemoryStore()
    seen: dict[str, bytes] = {}
    for number in count():
        data = b"blob %d" % number
        prefix = ids.put_blob(data)[:4]
        if prefix in seen:
            return seen[prefix], data, prefix
        seen[prefix] = data
    raise AssertionError("unreachable")


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: Path(e[-1]).name)
def test_process_errors_are_one_line(tmp_path, entry):
    result = asr_process(entry, "show", "abcd")
    assert result.returncode == 1
    assert result.stdout == ""
    assert one_error_line(result.stderr) == (
        f"Error: no ASR store in {tmp_path} or any folder above it: "
        "run `asr init` first"
    )

    store = init_store(tmp_path)
    first, second, prefix = colliding_blobs()
    ids = sorted([store.put_blob(first), store.put_blob(second)])

    result = asr_process(entry, "show", prefix)
    assert result.returncode == 1
    assert one_error_line(result.stderr) == (
        f"Error: '{prefix}' is ambiguous: it matches {ids[0]}, {ids[1]}"
    )

    result = asr_process(entry, "log", "nothex")
    assert result.returncode == 1
    assert one_error_line(result.stderr) == "Error: not an id: 'nothex'"
    assert "Traceback" not in result.stderr

    result = asr_process(entry, "show", ids[0][:8])
    assert result.returncode == 0
    assert result.stdout.startswith(f"blob     {ids[0]}")
