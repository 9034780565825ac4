"""Progress of long store work (transfers), shown by whoever listens.

The store reports (`task`); a listener shows it: `asr clone`, `fetch`,
`pull`, `push` and `bundle` draw rich's bars on a terminal, and a script or
notebook may pass its own with `reporting`. The listener is kept per
context (a ContextVar), so a transfer in one thread never draws another's
bar, and work with nobody listening costs one lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

Advance = Callable[[int], None]
#: (description, total or None, unit: "items" or "bytes") -> a context
#: manager that yields `advance(n)`, as `asr.cli.common.progress_bar`.
Listener = Callable[[str, "int | None", str], AbstractContextManager[Advance]]

_listener: ContextVar[Listener | None] = ContextVar("asr_progress", default=None)
T = TypeVar("T")


@contextmanager
def reporting(listener: Listener) -> Iterator[None]:
    """Show the progress of the store work done inside on `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def _nothing(n: int = 1) -> None:
    pass


@contextmanager
def task(description: str, total: int | None, unit: str = "items") -> Iterator[Advance]:
    """One piece of work of `total` items or bytes (None: unknown)."""
    listener = _listener.get()
    if listener is None:
        yield _nothing
        return
    with listener(description, total, unit) as advance:
        yield advance


@contextmanager
def counting(
    items: Iterable[T], description: str, total: int | None
) -> Iterator[Iterator[T]]:
    """`items`, each one counted as it passes (objects sent or received);
    the bar ends with the block, also when the work inside fails."""
    with task(description, total) as advance:

        def each() -> Iterator[T]:
            for item in items:
                yield item
                advance(1)

        yield each()
