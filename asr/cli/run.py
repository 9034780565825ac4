"""`asr run "asr.gs --atoms structure.json --calculator {...}"` and `asr list`.

Options are made from the instruction's signature: `--name value` for every
parameter, converted by the parameter's annotation (`params.py`); a
parameter called `atoms` (or annotated as Atoms) reads a structure file.
`asr run NAME --help` describes the recipe (`recipe_help.py`).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from asr.core import Instruction
from asr.core.presentation import rich_value

from .common import console, err_console
from .params import parse_arguments
from .status import live_status

HELP_FLAGS = ("-h", "--help")


class RecipeError(click.ClickException):
    """A recipe refused its input with a ValueError: one line, not a traceback."""


def preamble(instr: Instruction, kwargs: dict[str, Any]) -> list[str]:
    """What a call at production defaults is about to do (GPAW: minutes)."""
    from asr.calculators import describe_calculator

    parameter = instr.signature.parameters.get("calculator")
    if parameter is None or "calculator" in kwargs:
        return []
    spec = parameter.default
    if not isinstance(spec, dict) or str(spec.get("name", "")).lower() != "gpaw":
        return []
    atoms = kwargs.get("atoms")
    what = ""
    if atoms is not None and hasattr(atoms, "get_chemical_formula"):
        what = f" on {atoms.get_chemical_formula()} ({len(atoms)} atoms)"
    return [
        f"{instr.name}{what} with the default calculator: {describe_calculator(spec)}.",
        "Production settings: this may take minutes. Tiny settings: see "
        f"`asr run {instr.name} --help`.",
    ]


def log_path(log: str) -> str:
    """A Record's log (named from the store's folder) from the working folder."""
    from asr.core import get_store

    root = getattr(get_store(), "root", None)
    if root is None:
        return log
    return os.path.relpath(Path(root).parent / log)


@click.command(context_settings={"ignore_unknown_options": True}, add_help_option=False)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Run an instruction: asr run "asr.structureinfo --atoms structure.json".

    The name is a recipe (`asr list`) or a `module:function` instruction.
    A Record already in the store is reused, not recomputed. `asr run NAME
    --help` lists the recipe's parameters, units and result keys.
    """
    words = shlex.split(command[0]) + list(command[1:]) if command else []
    if not words or words[0] in HELP_FLAGS:
        click.echo(ctx.get_help())
        if not words:
            raise click.UsageError("which instruction? e.g. asr run asr.structureinfo")
        return
    from asr.core.plugins import get_recipe

    from .records import install  # noqa: F401  (user errors of the core)

    instr = get_recipe(words[0])
    if any(word in HELP_FLAGS for word in words[1:]):
        from .recipe_help import print_help

        print_help(instr)
        return
    kwargs = parse_arguments(instr, words[1:])
    notes = preamble(instr, kwargs)
    if notes and instr.lookup(instr.arguments(**kwargs)) is None:
        for note in notes:
            err_console().print(Text(note, style="yellow"), soft_wrap=True)
    called = time.time()
    try:
        with live_status(instr.name):
            record = instr(**kwargs)
    except ValueError as err:
        notes = " ".join(getattr(err, "__notes__", ()))  # e.g. which MPI rank
        raise RecipeError(f"{instr.name}: {err} {notes}".rstrip()) from err
    out = console()
    out.print(f"[bold]{instr.name}[/bold] record {record.uid} revision {record.oid}")
    metadata = record.metadata
    if metadata.get("pid") == os.getpid() and metadata.get("start", 0) >= called:
        out.print(f"[dim]Computed in {metadata['wall_time']:.1f} s and stored.[/dim]")
        if metadata.get("log"):
            out.print(f"[dim]Log: {log_path(metadata['log'])}[/dim]", soft_wrap=True)
    else:
        out.print("[dim]Found in the store: not computed again.[/dim]")
    out.print(rich_value(record.result))


@click.command("list")
def list_recipes() -> None:
    """List the recipes of every installed plugin, with their descriptions."""
    from asr.core.plugins import load_all, plugin_of

    table = Table(
        "recipe",
        "version",
        "plugin",
        "description",
        caption="Parameters, units and result keys: asr help NAME",
    )
    for name, instr in load_all().items():
        plugin = plugin_of(instr.__module__)
        table.add_row(
            Text(name),
            str(instr.version),
            Text(plugin.name if plugin else ""),
            Text(instr.description),
        )
    console().print(table)
