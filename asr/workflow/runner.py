"""`run`: one instruction call in a MyQueue workflow script.

Inside ``mq workflow workflow.py tree/*/`` MyQueue calls the script's
`workflow()` once per folder, in that folder. There `run("asr.gs", ...)`:

1. binds the arguments (defaults filled in, as an instruction call would);
2. if none of them waits for another task, asks the store
   (`Instruction.lookup`): a Record means *done* — the call becomes no task
   at all and `handle.result` is the real result, so Python control flow on
   it just works (``if gs.result.gap > 0: ...``);
3. otherwise writes a task file and hands MyQueue a task
   ``python -m asr.workflow.task NAME .asr-tasks/<task>.args`` with the
   resources asked for and a dependency on every task whose result it uses.
   Its `result` is then a placeholder: attribute and item access give more
   placeholders (``relax.result.atoms`` can be passed on to another `run`),
   anything that needs the value (a comparison, ``bool``, arithmetic) stops
   collecting in this folder; a later ``mq workflow`` continues from there.

Called outside of ``mq workflow`` (``python -c "import workflow; ..."``),
`run` simply calls the instruction: the whole workflow runs in-process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from myqueue import workflow as mq

from asr.core import Instruction, Record, use_store
from asr.store import (
    BaseStore,
    EncodeError,
    IndexTerms,
    decode,
    encode,
    find_root,
    open_store,
)

from .healing import Healer, check_policy, find_call, policy_for
from .taskfiles import (
    Ref,
    Resolver,
    WorkflowError,
    loader_name,
    read_header,
    read_resources,
    task_file,
    task_name,
    write_task_file,
)

TASK_MODULE = "asr.workflow.task"
RESERVED = ("resources", "deps", "handlers", "fallback")
RESOURCE_KEYS = ("cores", "tmax", "processes", "nodename", "restart", "weight")


class NeedsResult(mq.StopCollecting):
    """The workflow needs the real result of a task that is not done yet."""

    def __init__(self, pending: Pending):
        super().__init__(f"{pending!r} is needed to continue")
        self.pending = pending


class Handle:
    """One instruction call of a workflow: done (a Record) or a MyQueue task."""

    def __init__(
        self,
        instruction: Instruction,
        name: str,
        folder: Path,
        record: Record | None = None,
        task: mq.RunHandle | None = None,
        file: Path | None = None,
        terms: IndexTerms | None = None,
    ):
        self.instruction = instruction
        self.name = name
        self.folder = folder
        self._record = record
        self.task = task
        self.file = file
        self.terms = terms  # the call's index terms (None: waits for a result)

    def __repr__(self) -> str:
        state = "done" if self.done else "task"
        return f"<Handle {self.name} ({state}) in {self.folder}>"

    @property
    def done(self) -> bool:
        """Is the call's Record in the store?"""
        return self._record is not None

    @property
    def record(self) -> Record | Pending:
        """The Record, or a placeholder for it while the task is not done."""
        return self._record if self._record is not None else Pending(self, ())

    @property
    def result(self) -> Any:
        """The result, or a placeholder for it while the task is not done."""
        if self._record is not None:
            return self._record.result
        return Pending(self, (("attr", "result"),))

    # `with gs: run(...)` makes every task inside depend on gs, as in MyQueue.
    def __enter__(self) -> Handle:
        if self.task is not None:
            self.task.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.task.__exit__(*exc)


class Pending:
    """A value from the result of a task that has not run yet.

    Attribute and item access give more precise placeholders; everything
    that needs the value itself raises `NeedsResult`, which tells
    ``mq workflow`` to stop collecting in this folder for now.
    """

    __slots__ = ("_handle", "_path")

    def __init__(self, handle: Handle, path: tuple):
        self._handle = handle
        self._path = path

    def __getattr__(self, name: str) -> Pending:
        if name.startswith("__"):
            raise AttributeError(name)
        return Pending(self._handle, (*self._path, ("attr", name)))

    def __getitem__(self, key: Any) -> Pending:
        return Pending(self._handle, (*self._path, ("item", key)))

    def __repr__(self) -> str:
        from .taskfiles import path_text

        return f"<{self._handle.name}{path_text(self._path)}: not done yet>"

    def __hash__(self) -> int:
        return id(self)

    def _needs_value(self, *args: Any, **kwargs: Any) -> Any:
        raise NeedsResult(self)


_OPERATIONS = (
    "__bool__ __str__ __len__ __iter__ __contains__ __call__ __format__ __index__ "
    "__int__ __float__ __complex__ __round__ __neg__ __pos__ __abs__ "
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __array__"
).split()
for _op in _OPERATIONS:
    setattr(Pending, _op, Pending._needs_value)
for _op in "add sub mul truediv floordiv mod pow matmul and or xor".split():
    setattr(Pending, f"__{_op}__", Pending._needs_value)
    setattr(Pending, f"__r{_op}__", Pending._needs_value)


@dataclass
class _Collection:
    """Handles made while MyQueue collects one folder (for dedup and status)."""

    tasks: list | None = None
    handles: dict[Path, Handle] = field(default_factory=dict)
    stores: dict[Path, BaseStore] = field(default_factory=dict)
    roots: dict[Path, Path] = field(default_factory=dict)
    resolver: Resolver = field(default_factory=Resolver)
    trace: list | None = None
    estimators: dict[Path, Any] = field(default_factory=dict)


_state = _Collection()


def _collecting() -> bool:
    """Is MyQueue collecting tasks (or running another task of the script)?"""
    return mq.runner.tasks is not None or bool(mq.runner.target)


def _collection() -> _Collection:
    if mq.runner.tasks is not _state.tasks:  # a new folder or a new script
        _state.tasks = mq.runner.tasks
        _state.handles.clear()
    return _state


def _store_here() -> BaseStore:
    cwd = Path.cwd()
    root = _state.roots.get(cwd)
    if root is None:
        root = _state.roots[cwd] = find_root(cwd)
    store = _state.stores.get(root)
    if store is None:
        store = _state.stores[root] = open_store(root)
    return store


def run(
    recipe: str | Instruction,
    /,
    *args: Any,
    resources: str | dict[str, Any] | None = None,
    deps: Sequence[Handle] = (),
    handlers: dict[str, list[str]] | None = None,
    fallback: str | dict[str, Any] | None = None,
    **kwargs: Any,
) -> Handle:
    """Call instruction `recipe` as a MyQueue task (see the module docstring).

    `resources` is a MyQueue resource string (``"8:2h"``: 8 cores for two
    hours; ``"40:xeon40:1d"``) or a dict with `cores`, `tmax`, `processes`,
    `nodename`, `restart`, `weight`; MyQueue's ``with resources(...)``
    gives defaults. ``resources="auto"`` asks for the wall time estimated
    from the store's Records of the instruction (see `estimate`), with the
    cores of `fallback`, which is used whole while the store has too few.
    `deps` adds dependencies on tasks whose results are not arguments
    (e.g. a recipe that reads the ground state itself).
    `handlers` overrides the recipe's handler policy for failures, class by
    class (``{"scf": ["iterations"], "bands": []}``; see `healing`).
    """
    instr = _instruction(recipe)
    for name in RESERVED:
        if name in instr.signature.parameters:
            raise WorkflowError(
                f"{instr.name} has a parameter {name!r}, which `run` reserves"
            )
    if handlers is not None:
        check_policy(handlers)
    if fallback is not None and resources != "auto":
        raise WorkflowError('fallback= goes with resources="auto"')
    arguments = instr.arguments(*args, **kwargs)
    folder = Path.cwd()
    if not _collecting():
        return _run_now(instr, as_tasks_see_them(instr, arguments), folder, handlers)

    collection = _collection()
    waits_for: dict[int, Handle] = {}
    form = as_tasks_see_them(instr, _replace_pending(arguments, folder, waits_for))
    if not waits_for:
        arguments = form
    store = _store_here()
    terms = instr.terms(form)
    if not waits_for:
        record = find_call(instr, arguments, store, terms)
        if record is not None:
            return _note(
                collection,
                Handle(instr, task_name(instr, terms), folder, record, terms=terms),
            )
    name = task_name(instr, terms)
    path = task_file(folder, name)
    twin = None if waits_for else _pending_twin(instr, folder, terms, collection)
    if twin is not None:
        path, name = twin, twin.name.removesuffix(".args")
    known = collection.handles.get(folder / name)
    if known is not None:
        return known
    if twin is None:
        write_task_file(path, instr, form, terms, handlers)
    for handle in deps:
        if not handle.done:
            waits_for[id(handle)] = handle
    task = mq.run(
        module=TASK_MODULE,
        args=[loader_name(instr), str(path.relative_to(folder))],
        name=name,
        deps=[h.task for h in waits_for.values() if h.task is not None],
        # A resubmission after a time-out or out of memory asks for more.
        **{
            **_chosen_resources(instr, form, store, resources, fallback),
            **read_resources(path),
        },
    )
    handle = Handle(
        instr, name, folder, task=task, file=path, terms=None if waits_for else terms
    )
    collection.handles[folder / name] = handle
    return _note(collection, handle)


def as_tasks_see_them(instr: Instruction, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments as a task receives them: through the store's codec.

    A task reads its arguments from a task file. Looking up (and computing,
    outside of MyQueue) with exactly the decoded values makes the workflow
    and its tasks agree on every call, and an argument that cannot go into
    a task file is reported here, where the workflow script calls it.
    """
    try:
        decoded = decode(encode(arguments))
    except EncodeError as err:
        raise WorkflowError(f"an argument cannot go into a task file: {err}") from None
    return instr.arguments(**decoded)


def _instruction(recipe: str | Instruction) -> Instruction:
    if isinstance(recipe, Instruction):
        return recipe
    from asr.core.plugins import get_recipe

    return get_recipe(recipe)


def _note(collection: _Collection, handle: Handle) -> Handle:
    if collection.trace is not None:
        collection.trace.append(handle)
    return handle


def _run_now(
    instr: Instruction,
    arguments: dict[str, Any],
    folder: Path,
    handlers: dict[str, list[str]] | None = None,
) -> Handle:
    """Outside of MyQueue: compute (or find) the Record right here, healing
    failures as a task would."""
    terms = instr.terms(arguments)
    store = _store_here()
    with use_store(store):
        record = find_call(instr, arguments, store, terms)
        if record is None:
            policy = policy_for(instr.name, handlers)
            record = Healer(instr, arguments, store, policy).run()
    return Handle(instr, task_name(instr, terms), folder, record, terms=terms)


def _replace_pending(value: Any, folder: Path, waits_for: dict[int, Handle]) -> Any:
    """`value` with every placeholder replaced by a `Ref` to its task file."""
    t = type(value)
    if t is Pending:
        handle = value._handle
        waits_for[id(handle)] = handle
        relative = Path(_relpath(handle.file, folder / ".asr-tasks"))
        return Ref(str(relative), value._path)
    if t is dict:
        return {k: _replace_pending(v, folder, waits_for) for k, v in value.items()}
    if t is list:
        return [_replace_pending(v, folder, waits_for) for v in value]
    if t is tuple:
        return tuple(_replace_pending(v, folder, waits_for) for v in value)
    if isinstance(value, Handle):
        raise WorkflowError(
            f"a Handle ({value.name}) is no argument: pass its .result (or a "
            "part of it), or give it in deps=[...]"
        )
    return value


def _relpath(path: Path | None, start: Path) -> str:
    assert path is not None  # a handle that is not done has a task file
    return os.path.relpath(path, start)


def _pending_twin(
    instr: Instruction, folder: Path, terms, collection: _Collection
) -> Path | None:
    """The task file of an earlier task that makes this very call through Refs.

    A task submitted while its inputs were not known is named after its
    Refs; once they are known the same call has another name. Finding the
    earlier task keeps a rerun of ``mq workflow`` from submitting it twice.
    """
    prefix = f"{instr.name}-"
    directory = folder / ".asr-tasks"
    with contextlib.suppress(FileNotFoundError):
        for path in sorted(directory.iterdir()):
            if not (path.name.startswith(prefix) and path.suffix == ".args"):
                continue
            header = read_header(path)
            # A task of an older version of the instruction (ASR upgraded
            # since) made another call: MyQueue may call it done, but its
            # Record is not the one asked for now.
            if not header.get("pending") or header.get("version") != instr.version:
                continue
            try:
                _, arguments, _ = collection.resolver.call(path)
            except Exception:  # its inputs are not all there: not a twin
                continue
            if instr.terms(arguments).exact == terms.exact:
                return path
    return None


def _chosen_resources(
    instr: Instruction,
    arguments: dict[str, Any],
    store: BaseStore,
    resources: str | dict[str, Any] | None,
    fallback: str | dict[str, Any] | None,
) -> dict[str, Any]:
    """The resources to submit with; ``"auto"``: estimated from the store."""
    if resources != "auto":
        return _resources(resources)
    from .estimate import Estimator

    estimator = _state.estimators.get(store.root)
    if estimator is None:
        estimator = _state.estimators[store.root] = Estimator(store)
    defaults = mq.runner.resource_kwargs  # MyQueue's, or `with resources(...)`
    cores = defaults.get("processes") or defaults.get("cores") or 1
    return estimator.resources(instr.name, arguments, _resources(fallback), cores)


def _resources(resources: str | dict[str, Any] | None) -> dict[str, Any]:
    if resources is None:
        return {}
    if isinstance(resources, str):
        from myqueue.resources import Resources

        parsed = Resources.from_string(resources)
        found = {"cores": parsed.cores, "tmax": f"{parsed.tmax}s"}
        if parsed.processes != parsed.cores:
            found["processes"] = parsed.processes
        if parsed.nodename:
            found["nodename"] = parsed.nodename
        if parsed.weight != -1.0:
            found["weight"] = parsed.weight
        if parsed.serial is not None:
            found["serial"] = parsed.serial
        return found
    unknown = set(resources) - {*RESOURCE_KEYS, "serial", "gpus"}
    if unknown:
        raise WorkflowError(
            f"unknown resources {sorted(unknown)}: use {', '.join(RESOURCE_KEYS)}"
        )
    return dict(resources)


@contextlib.contextmanager
def tracing() -> Iterator[list]:
    """Collect every Handle that `run` makes (for `asr workflow status`)."""
    old = _state.trace
    _state.trace = []
    try:
        yield _state.trace
    finally:
        _state.trace = old


__all__ = ["Handle", "NeedsResult", "Pending", "WorkflowError", "run"]
