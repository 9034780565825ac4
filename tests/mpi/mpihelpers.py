"""Run commands under `mpiexec -n 2`, as a user on a cluster would."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def mpiexec(
    *argv: str,
    cwd: Path,
    ranks: int = 2,
    timeout: float = 120,
    pythonpath: Path | None = None,
):
    """Run `argv` on `ranks` ranks; a hang fails the test, it does not block.

    `pythonpath` comes first on the ranks' path (then this folder).
    """
    if shutil.which("mpiexec") is None:
        pytest.fail("mpiexec is missing: run `make install`")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [*([str(pythonpath)] if pythonpath else []), str(HERE)]
            + [os.environ.get("PYTHONPATH", "")]
        ),
        "OMP_NUM_THREADS": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",  # containers and CI run as root
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    command = ["mpiexec", "-n", str(ranks), "--oversubscribe", *argv]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def json_objects(text: str) -> list[dict]:
    """The JSON objects the ranks printed: mpiexec forwards each rank's
    output as it comes, so two ranks' lines may run together."""
    return [json.loads(match) for match in re.findall(r"\{[^{}]*\}", text)]
