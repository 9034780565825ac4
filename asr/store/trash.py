"""Files that `gc` no longer needs, removed off its critical path.

On file systems mounted with `discard` an unlink waits for the freed blocks
to be trimmed (about 0.5 ms a file here), while a rename within the store
frees nothing (some 30 us). So `gc` renames the loose copies it has packed
into a trash folder of its own (`.asr/trash/<host>-<pid>-<random>/`) and a
detached process removes the trash afterwards. Only what a committed pack
holds is ever moved there, so losing the trash loses nothing; a trash
folder left by a crash is removed by the next `gc`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .files import HOST, listdir

_REMOVE = (
    "import shutil, sys; [shutil.rmtree(p, ignore_errors=True) for p in sys.argv[1:]]"
)


class Trash:
    """A trash folder for one `gc` run."""

    def __init__(self, root: Path):
        self.folder = (
            Path(root) / "trash" / f"{HOST}-{os.getpid()}-{os.urandom(4).hex()}"
        )
        self._made = False

    def move(self, path: str) -> bool:
        """Move a file into the trash; False if it was not there."""
        if not self._made:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._made = True
        try:
            os.rename(
                path,
                f"{self.folder}/{os.path.basename(os.path.dirname(path))}"
                f"{os.path.basename(path)}",
            )
        except FileNotFoundError:
            return False
        return True


def folders(root: Path) -> list[Path]:
    """The trash folders of finished (or crashed) gc runs."""
    base = Path(root) / "trash"
    return [base / name for name in sorted(listdir(base))]


def empty(paths: list[Path], wait: bool = False) -> None:
    """Remove trash folders: in a detached process unless `wait`."""
    paths = [path for path in paths if os.path.isdir(path)]
    if not paths:
        return
    if wait:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
        return
    subprocess.Popen(
        [sys.executable, "-c", _REMOVE, *map(str, paths)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives `asr gc`, and is not its child
    )
