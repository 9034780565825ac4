"""README's "Stores that travel" block, typed as it stands (with the
cluster's ssh URL replaced by a path, and `asr app` not started)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"
URL = "ssh://me@cluster/scratch/me/project"


def story() -> list[str]:
    section = README.read_text().split("## Stores that travel", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("$ ", 1)[1].split("  #")[0] for line in block.splitlines()]


def sh(command: str, cwd: Path) -> str:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]])}
    done = subprocess.run(
        ["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def material(top: Path) -> None:
    (top / "tree" / "Si").mkdir(parents=True)
    sh(
        "python -c \"from ase.build import bulk; bulk('Si').write('structure.json')\"",
        top / "tree" / "Si",
    )


def test_readme_story_runs_as_typed(tmp_path):
    cluster, laptop = tmp_path / "cluster", tmp_path / "laptop"
    for top in (cluster, laptop):
        material(top)
    sh("asr init && cd tree/Si && asr run asr.structureinfo", cluster)
    clone, pull, view = story()
    assert URL in clone and "asr app" in view
    out = sh(clone.replace(URL, str(cluster)), laptop)
    assert "Cloned 1 Records" in out
    sh("cd tree/Si && asr run 'asr.structureinfo --symprec 0.01'", cluster)
    assert "Received 1 objects" in sh(pull, laptop)
    sh(view.split(" && asr app")[0], laptop)
    assert (laptop / "project.db").is_file()
