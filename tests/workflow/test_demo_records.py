"""`make demo`'s Records read back in fresh processes, as a user reads them.

The demo (examples/demo.sh: the tiny C2DB-style workflow over Si, BN, MoS2
and Fe on the local scheduler) runs once for this module. Then every Record
it made is shown by `asr show`, `asr results` and Jupyter's `_repr_html_`,
each in a new process that has imported no recipe: every Result must come
back as its class (the registry resolves its tag), with its keys'
descriptions, never as a `Tagged(...)` repr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"

pytestmark = [pytest.mark.slow, pytest.mark.gpaw]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-run")
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "MYQUEUE_TESTING": os.environ["HOME"],
    }
    done = subprocess.run(
        ["sh", str(EXAMPLES / "demo.sh")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "demo"


def asr(demo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", *args],
        cwd=demo,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def demo_records(demo: Path) -> list[dict]:
    records = json.loads(asr(demo, "cache", "ls", "--format", "json"))
    assert len(records) >= 30
    return records


KEYS = """
import json, sys
from asr.core.cache import all_records
from asr.core.result import Result
from asr.store import open_store
out = {}
for r in all_records(open_store(".")):
    is_result = isinstance(r.result, Result)
    keys = [i.description for i in r.result.keys()] if is_result else None
    out[r.uid] = {"name": r.name, "keys": keys, "html": r._repr_html_()}
json.dump(out, sys.stdout)
"""


def fresh_view(demo: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", KEYS], cwd=demo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def first_words(description: str) -> str:
    """A description's start: a narrow table may wrap the rest."""
    return " ".join(description.split()[:2])


@pytest.mark.parametrize("view", ["show", "results", "html"])
def test_every_demo_record_renders_its_result(demo, view):
    records = fresh_view(demo)
    assert all(r["keys"] is not None for r in records.values() if "Tagged" in str(r))
    unresolved = {r["name"] for r in records.values() if r["keys"] is None}
    # Recipes whose result is plain data (a dict, a list), not a Result.
    assert unresolved <= {"asr.setup.magnetize", "asr.phonopy.forces"}, unresolved
    problems = []
    if view == "results":
        names = {r["name"] for r in records.values()}
        for name in sorted(names):
            text = asr(demo, "results", name, "--all")
            if "Tagged(" in text:
                problems.append(f"{name}: Tagged")
        assert not problems, problems
        return
    for uid, record in records.items():
        text = asr(demo, "show", uid) if view == "show" else record["html"]
        if "Tagged(" in text:
            problems.append(f"{record['name']} {uid[:8]}: Tagged")
        for description in record["keys"] or []:
            if first_words(description) not in " ".join(text.split()):
                problems.append(f"{record['name']} {uid[:8]}: no {description!r}")
    assert not problems, problems
