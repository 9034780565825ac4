"""Which store a call uses, and which Records it has obtained so far.

The store defaults to the nearest `.asr/` above the working folder; scripts
and tests choose another with `use_store`. While an instruction runs, every
Record it obtains is logged in its frame: that is dependency capture.

A frame also has a text log (`run_log`) beside the store, where calculators
write what they do (GPAW's SCF iterations), so a long run can be watched and
a finished Record names the log of the run that made it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from asr.store import BaseStore, open_store

_store: contextvars.ContextVar[BaseStore | None] = contextvars.ContextVar(
    "asr_store", default=None
)
_frames: contextvars.ContextVar[tuple[Frame, ...]] = contextvars.ContextVar(
    "asr_frames", default=()
)
_opened: dict[Path, BaseStore] = {}

#: Folder of the run logs, inside the store's folder (`.asr/runlogs/`).
RUN_LOGS = "runlogs"

# Logs open in this process, innermost last: read by other threads (a status
# line), which cannot see the context variables of the running instruction.
_live_logs: list[Path] = []
_live_lock = threading.Lock()


@dataclass
class Frame:
    """One running instruction call and the Records it has used."""

    name: str
    key: bytes
    dependencies: dict[str, str] = field(default_factory=dict)  # uid -> oid
    log_path: Path | None = None  # where `run_log` writes; None: no log
    log: TextIO | None = field(default=None, repr=False)  # open once used

    def open_log(self) -> TextIO | None:
        if self.log is None and self.log_path is not None:
            from ase.parallel import world

            if world.rank != 0:  # rank 0 writes, like GPAW itself
                return None
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log = open(self.log_path, "a", encoding="utf-8", buffering=1)
            with _live_lock:
                _live_logs.append(self.log_path)
        return self.log

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            with _live_lock:
                _live_logs.remove(self.log_path)


def get_store() -> BaseStore:
    """The store in use: the one set by `use_store`, else the nearest `.asr/`."""
    store = _store.get()
    if store is not None:
        return store
    cwd = Path.cwd()
    store = _opened.get(cwd)
    if store is None:
        store = _opened[cwd] = open_store(cwd)
    return store


@contextlib.contextmanager
def use_store(store: BaseStore) -> Iterator[BaseStore]:
    token = _store.set(store)
    try:
        yield store
    finally:
        _store.reset(token)


def running() -> tuple[Frame, ...]:
    return _frames.get()


def log_path_for(store: BaseStore, name: str, key: bytes) -> Path | None:
    """`.asr/runlogs/<name>-<12 hex digits of the call's key>.txt`.

    Named by the call, not the Record (which has no uid yet): a rerun of a
    failed call appends to the log of the failure. None for a store that has
    no folder (in memory).
    """
    root = getattr(store, "root", None)
    if root is None:
        return None
    return Path(root) / RUN_LOGS / f"{name}-{key.hex()[:12]}.txt"


@contextlib.contextmanager
def frame(name: str, key: bytes, log_path: Path | None = None) -> Iterator[Frame]:
    new = Frame(name, key, log_path=log_path)
    token = _frames.set((*_frames.get(), new))
    try:
        yield new
    finally:
        _frames.reset(token)
        new.close_log()


def run_log() -> TextIO | None:
    """The text log of the innermost running instruction, opened on first use.

    None outside an instruction, on MPI ranks other than 0, and for a store
    without a folder.
    """
    frames = _frames.get()
    return frames[-1].open_log() if frames else None


def live_log() -> Path | None:
    """The innermost log being written in this process now (any thread)."""
    with _live_lock:
        return _live_logs[-1] if _live_logs else None


def register_dependency(uid: str, oid: str) -> None:
    """Log a Record as used by the innermost running instruction (if any)."""
    frames = _frames.get()
    if frames:
        frames[-1].dependencies[uid] = oid
