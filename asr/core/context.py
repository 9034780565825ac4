"""Which store a call uses, and which Records it has obtained so far.

The store defaults to the nearest `.asr/` above the working folder; scripts
and tests choose another with `use_store`. While an instruction runs, every
Record it obtains is logged in its frame: that is dependency capture.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from asr.store import BaseStore, open_store

_store: contextvars.ContextVar[BaseStore | None] = contextvars.ContextVar(
    "asr_store", default=None
)
_frames: contextvars.ContextVar[tuple[Frame, ...]] = contextvars.ContextVar(
    "asr_frames", default=()
)
_opened: dict[Path, BaseStore] = {}


@dataclass
class Frame:
    """One running instruction call and the Records it has used."""

    name: str
    key: bytes
    dependencies: dict[str, str] = field(default_factory=dict)  # uid -> oid


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


@contextlib.contextmanager
def frame(name: str, key: bytes) -> Iterator[Frame]:
    new = Frame(name, key)
    token = _frames.set((*_frames.get(), new))
    try:
        yield new
    finally:
        _frames.reset(token)


def register_dependency(uid: str, oid: str) -> None:
    """Log a Record as used by the innermost running instruction (if any)."""
    frames = _frames.get()
    if frames:
        frames[-1].dependencies[uid] = oid
