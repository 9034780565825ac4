"""`asr run "asr.gs --atoms structure.json --calculator {...}"` and `asr list`.

Options are made from the instruction's signature: `--name value` for every
parameter. Values are read as JSON, then as Python literals, else as text; a
parameter called `atoms` (or annotated as Atoms) reads a structure file.
"""

from __future__ import annotations

import ast
import inspect
import json
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

from .common import console

DEFAULT_STRUCTURE = "structure.json"


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def is_atoms_parameter(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation
    return parameter.name == "atoms" or "Atoms" in str(annotation)


def read_structure(path: str) -> Any:
    from ase.io import read

    if not Path(path).is_file():
        raise click.UsageError(f"no structure file {path!r}")
    try:
        return read(path)
    except Exception as err:  # ASE raises many kinds for unreadable files
        raise click.UsageError(f"cannot read structure {path!r}: {err}") from None


def parse_arguments(instr: Instruction, words: list[str]) -> dict[str, Any]:
    """Keyword arguments for `instr` from command-line words."""
    parameters = instr.signature.parameters
    kwargs: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--"):
            raise click.UsageError(f"{instr.name}: expected an option, got {word!r}")
        name = word[2:].replace("-", "_")
        value_text = None
        if "=" in name:
            name, value_text = name.split("=", 1)
        if name not in parameters:
            known = ", ".join("--" + p.replace("_", "-") for p in parameters)
            raise click.UsageError(
                f"{instr.name} has no option --{name} (it has {known})"
            )
        parameter = parameters[name]
        if value_text is None:
            if parameter.annotation in (bool, "bool") and (
                i + 1 == len(words) or words[i + 1].startswith("--")
            ):
                kwargs[name] = True
                i += 1
                continue
            if i + 1 == len(words):
                raise click.UsageError(f"option --{name} needs a value")
            value_text = words[i + 1]
            i += 1
        i += 1
        kwargs[name] = (
            read_structure(value_text)
            if is_atoms_parameter(parameter)
            else parse_value(value_text)
        )
    for name, parameter in parameters.items():
        if (
            name not in kwargs
            and is_atoms_parameter(parameter)
            and parameter.default is inspect.Parameter.empty
        ):
            kwargs[name] = read_structure(DEFAULT_STRUCTURE)
    return kwargs


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(command: tuple[str, ...]) -> None:
    """Run an instruction: asr run "asr.structureinfo --atoms structure.json".

    The name is a recipe (`asr list`) or a `module:function` instruction.
    A Record already in the store is reused, not recomputed.
    """
    from asr.core.plugins import get_recipe

    from .records import install  # noqa: F401  (user errors of the core)

    words = shlex.split(command[0]) + list(command[1:]) if command else []
    instr = get_recipe(words[0])
    kwargs = parse_arguments(instr, words[1:])
    called = time.time()
    record = instr(**kwargs)
    out = console()
    out.print(f"[bold]{instr.name}[/bold] record {record.uid} revision {record.oid}")
    metadata = record.metadata
    if metadata.get("pid") == os.getpid() and metadata.get("start", 0) >= called:
        out.print(f"[dim]Computed in {metadata['wall_time']:.1f} s and stored.[/dim]")
    else:
        out.print("[dim]Found in the store: not computed again.[/dim]")
    out.print(rich_value(record.result))


@click.command("list")
def list_recipes() -> None:
    """List the recipes with their one-line descriptions."""
    from asr.core.plugins import load_all

    table = Table("recipe", "version", "description")
    for name, instr in load_all().items():
        table.add_row(Text(name), str(instr.version), Text(instr.description))
    console().print(table)
