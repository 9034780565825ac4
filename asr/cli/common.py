"""What the command modules share: the store, consoles, errors, lazy groups.

Command modules import from here, never from `main.py` (which imports them).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from asr import store as _store

if TYPE_CHECKING:  # rich is imported when something prints: `asr remote serve`
    from rich.console import Console  # (what ssh starts per fetch) never does

#: Exceptions that mean "the user asked for something that cannot be done":
#: one red line and exit code 1, a traceback only with `asr --verbose`.
#: Other layers add theirs with `add_user_error`.
USER_ERRORS: list[type[BaseException]] = [
    _store.StoreError,
    click.ClickException,
    OSError,
]


#: The same, named ``"module:Name"``: an error of a module that is slow to
#: import, registered without importing it (if raised, it was imported).
USER_ERROR_NAMES: set[str] = set()


def add_user_error(*types: type[BaseException] | str) -> None:
    """Report these exceptions (types or "module:Name") as one red line."""
    USER_ERRORS.extend(
        t for t in types if not isinstance(t, str) and t not in USER_ERRORS
    )
    USER_ERROR_NAMES.update(t for t in types if isinstance(t, str))


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, tuple(USER_ERRORS)):
        return True
    return any(
        f"{t.__module__}:{t.__qualname__}" in USER_ERROR_NAMES
        for t in type(err).__mro__
    )


def user_error_message(err: BaseException) -> str | None:
    """The one-line message for an expected error, or None for a bug."""
    if not _is_user_error(err):
        return None
    if isinstance(err, click.ClickException):
        message = err.format_message()
        if isinstance(err, click.UsageError) and err.ctx is not None:
            message += f" (see '{err.ctx.command_path} --help')"
    elif isinstance(err, OSError) and err.filename is not None and err.strerror:
        message = f"{err.strerror}: {err.filename}"
    else:
        message = str(err) or type(err).__name__
    return " ".join(message.split())  # exactly one line


@dataclass
class Settings:
    """Global options of `asr`, kept in the click context object."""

    verbose: bool = False


def settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Settings) if ctx is not None else None
    return found if found is not None else Settings()


def open_store() -> _store.DiskStore:
    """The store of the working folder or the nearest folder above it."""
    return _store.open_store(Path.cwd())


# Consoles are made when needed (not at import), so they write to whatever
# sys.stdout/sys.stderr and terminal width are current: CliRunner swaps them.
# Under MPI only rank 0 prints: the other ranks' consoles are quiet. The
# MPI world is asked only once asr.core is loaded (so `asr gc` stays light);
# a command that never loads it runs the same on every rank anyway.


def _quiet() -> bool:
    mpi = sys.modules.get("asr.core.mpi")
    return mpi is not None and not mpi.is_root()


def console() -> Console:
    from rich.console import Console

    return Console(quiet=_quiet())


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, quiet=_quiet())


def print_error(message: str) -> None:
    """One red line on stderr, never wrapped."""
    from rich.text import Text

    err_console().print(
        Text(f"Error: {message}", style="red"), soft_wrap=True, highlight=False
    )


def print_warning(message: str) -> None:
    """One yellow line on stderr, never wrapped."""
    from rich.text import Text

    err_console().print(
        Text(f"Warning: {message}", style="yellow"), soft_wrap=True, highlight=False
    )


def short_id(oid: str, length: int = 12) -> str:
    return str(oid)[:length]


@contextmanager
def progress_bar(
    description: str, total: int | None, unit: str = "items"
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (only on a terminal); yields `advance(n=1)`.
    In `unit` "bytes", it shows megabytes and the speed, as a download."""
    from rich.progress import (  # imported when used: keeps start-up quick
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    err = err_console()
    counts = (
        [DownloadColumn(), TransferSpeedColumn()]
        if unit == "bytes"
        else [MofNCompleteColumn()]
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *counts,
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance


class LazyGroup(click.Group):
    """A group whose commands are imported when first used.

    `lazy_commands` maps a command name to ``"module:attribute"``, so that
    `asr gc` does not import the recipes (and GPAW) just to start. Add one
    with ``group.add_lazy("ls", "asr.cli.cache_ls:ls")``.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def add_lazy(self, name: str, target: str) -> None:
        self.lazy_commands[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, name)
        return super().get_command(ctx, name)
