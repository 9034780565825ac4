"""The tutorials run: their code blocks, in order, in a fresh folder.

A ```sh block runs in bash (stopping at the first failing command); a
```python block runs as a script in the same folder; a block under
``<!-- file: NAME -->`` is written to NAME instead. A block under
``<!-- not run -->`` is only shown (a cluster, a browser). So a tutorial that
stops working fails the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
TUTORIALS = ["first-hour", "migrations", "database"]
BLOCK = re.compile(r"(?:<!-- (file: \S+|not run) -->\n)?```(\w+)\n(.*?)```", re.S)

pytestmark = pytest.mark.slow


def blocks(page: Path) -> list[tuple[str, str, str]]:
    """(mark, language, code) of every fenced block of `page`."""
    return BLOCK.findall(page.read_text())


def run_tutorial(page: Path, folder: Path) -> list[str]:
    """Run the blocks of `page` in `folder`; the outputs of the run blocks."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]]),
        "COLUMNS": "120",
        "MPLBACKEND": "Agg",
    }
    outputs = []
    for mark, language, code in blocks(page):
        if mark.startswith("file: "):
            (folder / mark[6:]).write_text(code)
            continue
        if mark == "not run" or language not in ("sh", "python"):
            continue
        command = ["bash", "-euo", "pipefail", "-c", code]
        if language == "python":
            command = [sys.executable, "-c", code]
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{page.name}:\n{code}\n{done.stdout}{done.stderr}"
        outputs.append(done.stdout)
    return outputs


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs(name, tmp_path):
    page = DOCS / "tutorials" / f"{name}.md"
    outputs = run_tutorial(page, tmp_path)
    assert len(outputs) >= 3  # the page has code that runs, not only prose
    assert (tmp_path / ".asr").is_dir()


def test_a_failing_block_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\nasr init\nasr show 0123456789\n```\n")
    (tmp_path / "run").mkdir()
    with pytest.raises(AssertionError, match="asr show"):
        run_tutorial(page, tmp_path / "run")
