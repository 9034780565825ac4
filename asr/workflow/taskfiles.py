"""Task files: the arguments of one instruction call, handed to a MyQueue task.

`mq workflow` only *collects* tasks; each instruction runs later, in its own
process, in the material's folder (``python -m asr.workflow.task NAME FILE``).
Its arguments travel in a task file, ``<folder>/.asr-tasks/<task name>.args``,
written with the store's canonical codec: Atoms, arrays, `File`s and
registered dataclasses arrive bit for bit, and nothing is pickled.

An argument taken from the result of a task that is not done yet is written
as a `Ref`: the producing task's file and the path into its Record (for
``relax.result.atoms``: ``.result.atoms``). The task resolves every Ref from
the store just before it runs.

A task's name is the instruction's name plus 8 hex digits of the index key
of its arguments, Refs included (``asr.gs-3fa2b1c9``): a changed argument or
version is a new name, hence a new task, while a rerun of an unchanged
workflow names the same tasks again and MyQueue does not submit them twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.core import Instruction, Record
from asr.store import (
    BaseStore,
    DecodeError,
    IndexTerms,
    decode,
    encode,
    find_root,
    open_store,
    register_type,
)
from asr.store.files import write_atomic

from .errors import MissingResultError, WorkflowError

TASK_DIR = ".asr-tasks"
FORMAT = "asr-task/1"
NAME_DIGITS = 8


@dataclass(frozen=True)
class Ref:
    """The result of another task (or a part of it), known once that task ran.

    `file` is the producing task's file, relative to the folder of the task
    file that holds this Ref; `path` leads from its Record to the value:
    ``(("attr", "result"), ("attr", "atoms"))`` for ``relax.result.atoms``.
    """

    file: str
    path: tuple = ()

    def describe(self) -> str:
        return Path(self.file).name.removesuffix(".args") + path_text(self.path)


def path_text(path: tuple) -> str:
    return "".join(f".{k}" if kind == "attr" else f"[{k!r}]" for kind, k in path)


register_type(
    Ref,
    "asr.workflow.Ref",
    lambda ref: [ref.file, [list(step) for step in ref.path]],
    lambda data: Ref(data[0], tuple(tuple(step) for step in data[1])),
)


def loader_name(instr: Instruction) -> str:
    """How another process finds `instr`: its recipe name or ``module:name``."""
    from asr.core.plugins import loader_name as name_or_path

    name = name_or_path(instr)
    if name is None:
        raise WorkflowError(
            f"{instr.name} is defined in a script; instructions that run as "
            "MyQueue tasks must live in an importable module"
        )
    return name


def task_name(instr: Instruction, terms: IndexTerms) -> str:
    return f"{instr.name}-{terms.exact.hex()[:NAME_DIGITS]}"


def task_file(folder: Path, name: str) -> Path:
    return folder / TASK_DIR / f"{name}.args"


def failure_file(path: Path) -> Path:
    """Where the task of task file `path` writes its exception, if it fails."""
    return path.with_suffix(".failed")


def attempts_file(path: Path) -> Path:
    """Failed jobs of the task of `path` before a resubmission (`asr workflow run`)."""
    return path.with_suffix(".attempts")


def resources_file(path: Path) -> Path:
    """Resources a resubmission asks for instead of the workflow's (JSON)."""
    return path.with_suffix(".resources")


def read_resources(path: Path) -> dict[str, Any]:
    """The resources of a resubmission of the task of `path` ({} if none)."""
    import json

    try:
        return dict(json.loads(resources_file(path).read_text()))
    except FileNotFoundError:
        return {}


def write_task_file(
    path: Path,
    instr: Instruction,
    arguments: dict[str, Any],
    terms: IndexTerms,
    handlers: dict[str, list[str]] | None = None,
) -> None:
    """Write the call's task file, unless it is there already (same name)."""
    key = terms.exact.hex()
    if path.is_file():
        if read_header(path).get("key") != key:
            raise WorkflowError(
                f"{path} holds another call with the same name: remove it"
            )
        return
    header = {
        "format": FORMAT,
        "name": instr.name,
        "loader": loader_name(instr),
        "version": instr.version,
        "key": key,
        "pending": contains_refs(arguments),
        "handlers": handlers,  # the project's handler policy (healing.py)
        # Encoded separately: the header must decode before the recipe
        # module (which registers the arguments' types) is imported.
        "arguments": encode(arguments),
    }
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, encode(header), durable=False)


def read_header(path: Path) -> dict[str, Any]:
    try:
        header = decode(Path(path).read_bytes())
    except (OSError, DecodeError) as err:
        raise WorkflowError(f"cannot read task file {path}: {err}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise WorkflowError(f"{path} is not an ASR task file")
    return header


def contains_refs(value: Any) -> bool:
    t = type(value)
    if t is Ref:
        return True
    if t is dict:
        return any(contains_refs(v) for v in value.values())
    if t is list or t is tuple:
        return any(contains_refs(v) for v in value)
    return False


class Resolver:
    """Turns the Refs of task files into values, from the stores' Records.

    Records are looked up, never computed: a missing one raises
    `MissingResultError`. Results are cached per task file.
    """

    def __init__(self) -> None:
        self._records: dict[Path, Record] = {}
        self._stores: dict[Path, BaseStore] = {}

    def call(self, path: Path) -> tuple[Instruction, dict[str, Any], dict]:
        """(instruction, resolved arguments, header) of task file `path`."""
        from asr.core.plugins import get_recipe

        header = read_header(path)
        instr = get_recipe(header["loader"])
        decoded = self.resolve(decode(header["arguments"]), path.parent)
        return instr, instr.arguments(**decoded), header

    def resolve(self, value: Any, base: Path) -> Any:
        t = type(value)
        if t is Ref:
            return follow(self.record(base / value.file), value.path)
        if t is dict:
            return {k: self.resolve(v, base) for k, v in value.items()}
        if t is list:
            return [self.resolve(v, base) for v in value]
        if t is tuple:
            return tuple(self.resolve(v, base) for v in value)
        return value

    def record(self, path: Path) -> Record:
        path = Path(os.path.normpath(path))
        if path not in self._records:
            instr, arguments, _ = self.call(path)
            folder = path.parent.parent
            from .healing import find_call

            record = find_call(instr, arguments, self.store(folder))
            if record is None:
                name = path.name.removesuffix(".args")
                raise MissingResultError(
                    f"{name} (in {folder}) has no Record: its task has not run or "
                    "failed; if MyQueue lists it as done, the store lost it: "
                    f"`mq rm -s d -n '{name}' {folder}` and run the workflow again"
                )
            self._records[path] = record
        return self._records[path]

    def store(self, folder: Path) -> BaseStore:
        root = find_root(folder)
        if root not in self._stores:
            self._stores[root] = open_store(root)
        return self._stores[root]


def follow(value: Any, path: tuple) -> Any:
    for kind, key in path:
        value = getattr(value, key) if kind == "attr" else value[key]
    return value
