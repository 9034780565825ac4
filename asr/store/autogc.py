"""``python -m asr.store.autogc ROOT``: the background `gc` writers start.

A writer that finds many commit logs, or whose own log grew long, starts
this detached (see `log.AUTO_GC_LOGS` and `log.AUTO_GC_FRAMES`); one runs
at a time, the others see its lock and leave.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .disk import DiskStore
from .files import FileLock
from .pack import gc


def running(root: Path) -> bool:
    """Is an autogc of the store at `root` (its `.asr` folder) alive? For
    those who time or check a store and must not race one."""
    wanted = f"asr.store.autogc\0{root}\0".encode()
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if wanted in file.read():
                    return True
        except OSError:  # not a process, or gone (or no /proc: not Linux)
            continue
    return False


def main(root: str) -> int:
    lock = FileLock(Path(root) / "locks" / "autogc.lock")
    if not lock.try_acquire():
        return 0  # another one is at it
    try:
        gc(DiskStore(Path(root)), background=False)
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
