"""A recipe's parameters as the command line sees them: type, default, unit.

Values typed on the command line are text; each is converted by its
parameter's annotation, so that a wrong value is one line naming the
parameter (`asr.structureinfo --symprec expects a number (float), got 'abc'`)
instead of a traceback from deep inside spglib or GPAW.

Units follow one convention: ``fmax: Annotated[float, "eV/Å"] = 0.01``; the
first string in `Annotated` is the unit (see CONTRIBUTING.md).
"""

from __future__ import annotations

import ast
import inspect
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from asr.core import Instruction

DEFAULT_STRUCTURE = "structure.json"
NO_DEFAULT = inspect.Parameter.empty


class ParameterError(click.ClickException):
    """A command-line value does not fit its parameter."""


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of an instruction, with its annotation resolved."""

    name: str
    annotation: Any  # a type, a typing construct, a string, or NO_DEFAULT
    default: Any = NO_DEFAULT
    unit: str = ""

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT

    @property
    def type_text(self) -> str:
        return type_name(self.annotation)


def type_hints(function: Any) -> dict[str, Any]:
    """Annotations resolved to objects; the raw ones if they cannot be."""
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # a name only known while type checking, a typo ...
        return dict(getattr(function, "__annotations__", {}))


def split_annotated(annotation: Any) -> tuple[Any, str]:
    """(type, unit) of ``Annotated[type, "unit", ...]``; else (annotation, "")."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        unit = next((e for e in extras if isinstance(e, str)), "")
        return base, unit
    return annotation, ""


SIMPLE_TYPES = {t.__name__: t for t in (bool, int, float, str, list, tuple, dict)}


def parameters(instr: Instruction) -> list[ParamInfo]:
    """The parameters of `instr` in signature order (no *args/**kwargs)."""
    hints = type_hints(instr.function)
    infos = []
    for name, parameter in instr.signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation, unit = split_annotated(hints.get(name, parameter.annotation))
        annotation = SIMPLE_TYPES.get(annotation, annotation)  # unresolved "float"
        infos.append(ParamInfo(name, annotation, parameter.default, unit))
    return infos


def result_class(instr: Instruction) -> type | None:
    """The Result class a recipe declares as its return annotation, if any."""
    from asr.core import Result

    returned, _ = split_annotated(type_hints(instr.function).get("return"))
    if isinstance(returned, type) and issubclass(returned, Result):
        return returned
    return None


# -- types --------------------------------------------------------------------


def _members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``, ``Optional[X]``), else ()."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


def is_atoms(info: ParamInfo) -> bool:
    annotation = info.annotation
    if info.name == "atoms":
        return True
    if isinstance(annotation, type):
        return annotation.__name__ == "Atoms"
    return "Atoms" in str(annotation)


def type_name(annotation: Any) -> str:
    """How a person reads an annotation: `float`, `dict | None`, `Atoms`."""
    if annotation is NO_DEFAULT:
        return "any"
    if annotation is type(None):
        return "None"
    members = _members(annotation)
    if members:
        return " | ".join(type_name(m) for m in members)
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    if isinstance(annotation, str):
        return annotation
    return str(annotation).replace("typing.", "")


EXPECTS = {
    bool: "true or false (bool)",
    int: "an integer (int)",
    float: "a number (float)",
    str: "text (str)",
    list: "a list, e.g. [1, 2] (list)",
    tuple: "a list, e.g. [1, 2] (tuple)",
    dict: 'a dict, e.g. {"key": 1} (dict)',
}
CALCULATOR = (
    'a calculator specification (dict), e.g. \'{"name": "gpaw", ...}\', '
    "a name such as emt, or a .json file"
)


class _Mismatch(Exception):
    """A value does not fit one type (the caller says what was expected)."""


def literal(text: str) -> Any:
    """JSON, else a Python literal, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _to_bool(text: str) -> bool:
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False}
    words["0"] = False
    try:
        return words[text.strip().lower()]
    except KeyError:
        raise _Mismatch from None


def _to_number(kind: type, text: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = literal(text)  # 1e3 for an int is fine if it is whole
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Mismatch from None
    return value


def _to_container(kind: type, text: str) -> Any:
    value = literal(text)
    if kind in (list, tuple) and isinstance(value, list | tuple):
        return kind(value)
    if isinstance(value, kind):
        return value
    raise _Mismatch


def read_calculator(text: str) -> dict[str, Any]:
    """A calculator specification: JSON or a literal dict, a name, a .json file."""
    if text.endswith(".json") and Path(text).is_file():
        text = Path(text).read_text()
    value = literal(text)
    if isinstance(value, str) and value.isidentifier():
        return {"name": value}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value
    raise _Mismatch


def read_structure(path: str) -> Any:
    from ase.io import read

    if not Path(path).is_file():
        raise click.UsageError(f"no structure file {path!r}")
    try:
        return read(path)
    except Exception as err:  # ASE raises many kinds for unreadable files
        raise click.UsageError(f"cannot read structure {path!r}: {err}") from None


def _convert_to(annotation: Any, text: str) -> Any:
    """`text` as a value of `annotation`; raises `_Mismatch` if it is not one."""
    if annotation is type(None):
        if text.strip().lower() in ("none", "null"):
            return None
        raise _Mismatch
    members = _members(annotation)
    if members:  # None first, so that "none" is never the text "none"
        for member in sorted(members, key=lambda m: m is not type(None)):
            try:
                return _convert_to(member, text)
            except _Mismatch:
                continue
        raise _Mismatch
    origin = typing.get_origin(annotation) or annotation
    if origin is bool:
        return _to_bool(text)
    if origin in (int, float):
        return _to_number(origin, text)
    if origin is str:
        return text
    if origin in (list, tuple, dict):
        return _to_container(origin, text)
    return literal(text)  # Any, an unresolved string, a class we do not know


def expects(info: ParamInfo) -> str:
    """What a value of `info` looks like, in words."""
    if info.name == "calculator":
        return CALCULATOR
    base = [m for m in _members(info.annotation) if m is not type(None)]
    annotation = base[0] if len(base) == 1 else info.annotation
    origin = typing.get_origin(annotation) or annotation
    text = EXPECTS.get(origin, info.type_text)
    if len(base) == 1 and len(_members(info.annotation)) == 2:
        text += " or none"
    return text


def convert(instr_name: str, info: ParamInfo, text: str) -> Any:
    """The value of `info` that the command-line `text` stands for."""
    if is_atoms(info):
        return read_structure(text)
    try:
        if info.name == "calculator":
            if text.strip().lower() in ("none", "null") and _members(info.annotation):
                return None
            return read_calculator(text)
        return _convert_to(info.annotation, text)
    except _Mismatch:
        raise ParameterError(
            f"{instr_name} {info.option} expects {expects(info)}, got {text!r}"
        ) from None


def parse_arguments(instr: Instruction, words: list[str]) -> dict[str, Any]:
    """Keyword arguments for `instr` from command-line words."""
    infos = {info.name: info for info in parameters(instr)}
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
        if name not in infos:
            known = ", ".join(info.option for info in infos.values())
            raise click.UsageError(
                f"{instr.name} has no option --{name} (it has {known}; "
                f"`asr help {instr.name}` describes them)"
            )
        info = infos[name]
        if value_text is None:
            if info.annotation is bool and (
                i + 1 == len(words) or words[i + 1].startswith("--")
            ):
                kwargs[name] = True
                i += 1
                continue
            if i + 1 == len(words):
                raise click.UsageError(f"option {info.option} needs a value")
            value_text = words[i + 1]
            i += 1
        i += 1
        kwargs[name] = convert(instr.name, info, value_text)
    for name, info in infos.items():
        if name not in kwargs and is_atoms(info) and info.required:
            kwargs[name] = read_structure(DEFAULT_STRUCTURE)
    return kwargs
