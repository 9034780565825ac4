"""A live status line while `asr run` computes: name, time, the log's last line.

A GPAW run at production settings takes minutes; a line on stderr that shows
the SCF iterations arriving says it is alive. Only on a terminal: logs and
pipes get nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.live import Live
from rich.text import Text

from asr.core.context import live_log

from .common import err_console

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def last_line(path: Path | None, tail: int = 4096) -> str:
    """The last non-blank line of a text file ('' if there is none yet)."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - tail))
            data = file.read()
    except OSError:
        return ""
    for line in reversed(data.decode("utf-8", "replace").splitlines()):
        if line.strip():
            return line.strip()
    return ""


def elapsed_text(seconds: float) -> str:
    """12s, 3m 05s, 1h 02m."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def status_text(name: str, seconds: float, log_line: str = "", width: int = 100) -> str:
    """One line: `asr.gs running 3m 05s │ iter:  12 ...`, cut to `width`."""
    text = f"{name} running {elapsed_text(seconds)}"
    if log_line:
        text += f" │ {log_line.strip()}"
    if len(text) > width:
        text = text[: max(width - 1, 0)] + "…"
    return text


class _StatusLine:
    """Rendered by rich's refresh thread: reads the clock and the log anew."""

    def __init__(self, name: str, log: Callable[[], Path | None], width: int):
        self.name, self.log, self.width = name, log, width
        self.start = time.monotonic()

    def __rich__(self) -> Text:
        seconds = time.monotonic() - self.start
        spin = SPINNER[int(seconds * 8) % len(SPINNER)]
        line = status_text(self.name, seconds, last_line(self.log()), self.width - 2)
        return Text(f"{spin} {line}", style="dim", no_wrap=True)


@contextmanager
def live_status(name: str) -> Iterator[None]:
    """Show the status line on stderr while the block runs (terminals only)."""
    err = err_console()
    if not err.is_terminal:
        yield
        return
    line = _StatusLine(name, live_log, err.width)
    with Live(line, console=err, refresh_per_second=4, transient=True):
        yield
