"""Hold Python's cyclic garbage collector off bulk work.

Imports keep hundreds of thousands of small objects alive, and migrations
make as many a second (a batch of strategies at a time), none of them in a
cycle. The collector would walk them all again and again (a third of the
time) to free nothing. While paused, automatic collection is
off and the caller collects the young generations now and then
(`gc.collect(1)`): garbage made meanwhile is still freed, and the long-lived
objects move to the old generation, which is not walked.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[Callable[[], int]]:
    """Automatic collection off; yields the function that collects young garbage."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if was_enabled:
            gc.enable()
