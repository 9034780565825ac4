"""README's first session, typed as it stands: every command must work.

The placeholders it used to show (`asr show 1a2b`) failed when typed; the
block now uses selections, and ids as `asr run` prints them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def first_session_blocks() -> tuple[str, str]:
    text = README.read_text()
    section = text.split("## A first session", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return shell, python


def run(command: list[str], cwd: Path, **kwargs) -> str:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]])}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, **kwargs
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_readme_first_session_runs_as_typed(tmp_path):
    shell, python = first_session_blocks()
    lines = [line for line in shell.splitlines() if ".venv/bin/activate" not in line]
    out = run(["bash", "-e", "-c", "\n".join(lines)], tmp_path)
    assert "StructureInfoResult" in out or "Fd-3m" in out
    uid = re.search(r"asr\.structureinfo\S* record ([0-9a-f]{32})", out).group(1)
    si = tmp_path / "si"
    shown = run(["asr", "show", uid[:6]], si)
    assert "Fd-3m" in shown and "Space group" in shown
    revision = re.search(r"revision\W+([0-9a-f]{32})", shown).group(1)
    assert revision[:12] in run(["asr", "log", uid[:6], "--oneline"], si)
    run(["asr", "log", uid[:6], "--deps"], si)
    run([sys.executable, "-c", python], si)
