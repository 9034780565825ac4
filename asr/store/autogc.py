"""``python -m asr.store.autogc ROOT``: the background `gc` writers start.

A writer that finds many commit logs starts this detached (see
`log.AUTO_GC_LOGS`); one runs at a time, the others see its lock and leave.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .disk import DiskStore
from .files import FileLock
from .pack import gc


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
