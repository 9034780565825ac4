"""`asr`: the command-line entry point.

Commands are listed in `COMMANDS` as ``"module:attribute"`` and imported
only when used; a new verb is one module plus one line here. Expected user
errors (see `common.USER_ERRORS`) become one red ``Error: ...`` line on
stderr and exit code 1; ``asr --verbose`` also shows the traceback.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click

from asr import __version__

from .common import (
    LazyGroup,
    Settings,
    err_console,
    print_error,
    print_warning,
    user_error_message,
)

COMMANDS = {
    "init": "asr.cli.init:init",
    "show": "asr.cli.show:show",
    "cat-object": "asr.cli.show:cat_object",
    "log": "asr.cli.log:log",
    "cache": "asr.cli.cache:cache",
    "fsck": "asr.cli.fsck:fsck",
    "gc": "asr.cli.gc:gc",
    "run": "asr.cli.run:run",
    "list": "asr.cli.run:list_recipes",
    "help": "asr.cli.recipe_help:help_command",
    "results": "asr.cli.results:results",
    "diff": "asr.cli.diff:diff",
    "database": "asr.cli.database:database",
    "app": "asr.cli.app:app",
    "workflow": "asr.cli.workflow:workflow",
    "remote": "asr.cli.remote:remote",
    "clone": "asr.cli.remote:clone",
    "fetch": "asr.cli.remote:fetch",
    "pull": "asr.cli.remote:pull",
    "push": "asr.cli.remote:push",
    "bundle": "asr.cli.remote:bundle",
}

VERBOSE_FLAGS = ("-v", "--verbose")

# click >= 8.2 raises this for a group called without a command.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _verbose_requested(args: Sequence[str]) -> bool:
    """Was ``--verbose`` given? Group options all come before the command."""
    for arg in args:
        if arg == "--" or not arg.startswith("-"):
            return False
        if arg in VERBOSE_FLAGS:
            return True
    return False


@contextmanager
def _store_warnings_as_lines() -> Iterator[None]:
    """A `StoreWarning` (a damaged record left out) is one yellow line on stderr."""
    from asr.store import StoreWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StoreWarning):
            print_warning(str(message))
        else:
            default(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        default = warnings.showwarning
        warnings.simplefilter("always", StoreWarning)
        warnings.showwarning = show
        yield


class AsrGroup(LazyGroup):
    """The `asr` group: turns expected errors into one red line."""

    def invoke(self, ctx: click.Context) -> None:
        super().invoke(ctx)  # a command's return value is not an exit code

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra,
    ):
        args = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            with _store_warnings_as_lines():
                code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as err:  # `asr` alone: help, as click 8.1 did
            if err.ctx is not None:
                click.echo(err.ctx.get_help())
            sys.exit(0)
        except click.Abort:
            print_error("aborted")
            sys.exit(1)
        except Exception as err:
            message = user_error_message(err)
            if message is None:
                raise  # a bug: Python prints the whole traceback
            if _verbose_requested(args):
                err_console().print_exception(suppress=[click])
            print_error(message)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    "asr",
    cls=AsrGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(*VERBOSE_FLAGS, is_flag=True, help="Show tracebacks and more detail.")
@click.version_option(__version__, "--version", prog_name="asr")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Atomic Simulation Recipes: cached, provenance-tracked simulations."""
    ctx.obj = Settings(verbose=verbose)


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point (`asr`)."""
    cli.main(args=args, prog_name="asr")


if __name__ == "__main__":
    main()
