"""`asr help NAME` and `asr run NAME --help`: what a recipe does and takes.

Everything shown comes from the code: the docstrings, the signature (types,
defaults, units from ``Annotated[float, "eV"]``) and the Result class the
main function returns (its keys' descriptions and units).
"""

from __future__ import annotations

import inspect
import json

import click
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from asr.calculators import QUICK_GPAW
from asr.core import Instruction

from .common import console
from .params import DEFAULT_STRUCTURE, ParamInfo, is_atoms, parameters, result_class


def default_text(info: ParamInfo) -> str:
    if is_atoms(info) and info.required:
        return f"{DEFAULT_STRUCTURE} (a structure file)"
    if info.required:
        return "required"
    try:
        return json.dumps(info.default, ensure_ascii=False)
    except TypeError:
        return repr(info.default)


def docstrings(instr: Instruction) -> list[str]:
    """The module's docstring (a recipe's description), then the function's."""
    module = inspect.getmodule(instr.function)
    docs = [inspect.getdoc(module), inspect.getdoc(instr.function)]
    seen: list[str] = []
    for doc in docs:
        if doc and doc.strip() and doc.strip() not in seen:
            seen.append(doc.strip())
    return seen


def quick_try(instr: Instruction) -> str | None:
    """A cheap calculator for recipes whose default is GPAW at production size."""
    for info in parameters(instr):
        default = info.default
        if info.name == "calculator" and isinstance(default, dict):
            if str(default.get("name", "")).lower() == "gpaw":
                spec = json.dumps(QUICK_GPAW)
                return f"asr run {instr.name} --calculator '{spec}'"
    return None


def describe(instr: Instruction) -> RenderableType:
    """The help page of one instruction."""
    parts: list[RenderableType] = [
        Text.assemble((instr.name, "bold"), f"  (version {instr.version})"),
        Text(""),
    ]
    for doc in docstrings(instr):
        parts += [Text(doc), Text("")]

    table = Table(
        "option", "type", "default", "unit", title="Parameters", title_justify="left"
    )
    for info in parameters(instr):
        table.add_row(
            info.option, escape(info.type_text), escape(default_text(info)), info.unit
        )
    parts.append(table)

    result = result_class(instr)
    if result is not None:
        keys = Table(
            "key",
            "unit",
            "description",
            title=f"Result: {result.__name__}",
            title_justify="left",
        )
        for key in result.keys():
            keys.add_row(key.name, key.unit, escape(key.description))
        parts += [Text(""), keys]

    usage = [
        "",
        "Run it:",
        f'  asr run "{instr.name} --option value ..."   (values: JSON or text)',
    ]
    quick = quick_try(instr)
    if quick is not None:
        usage += [
            "The defaults are production settings (minutes to hours). To try it",
            "in seconds, with results not worth keeping:",
            f"  {quick}",
        ]
    parts.append(Text("\n".join(usage)))
    return Group(*parts)


def print_help(instr: Instruction) -> None:
    console().print(describe(instr), soft_wrap=False)


@click.command("help")
@click.argument("name", required=False)
@click.pass_context
def help_command(ctx: click.Context, name: str | None) -> None:
    """Describe a recipe: asr help asr.gs (parameters, units, result keys)."""
    if name is None:
        click.echo(ctx.parent.get_help() if ctx.parent else ctx.get_help())
        return
    from asr.core.plugins import get_recipe

    from .records import install  # noqa: F401  (user errors of the core)

    print_help(get_recipe(name))
