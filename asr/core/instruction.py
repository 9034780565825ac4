"""`@instruction`: any function becomes a cached, provenance-tracked step.

Calling an instruction binds and normalises the arguments, asks the store's
index, and returns the cached Record on a hit. On a miss it takes a lock for
the call (so two processes compute it once), asks again, runs the function,
and stores a new Record. A failing function stores nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from asr.store import DEFAULT_ATOL, DEFAULT_RTOL, BaseStore, IndexTerms

from . import context, mpi
from .arguments import ArgumentError, bind, index_terms
from .files import store_files
from .metadata import directory_in, now, run_metadata
from .record import Dependency, Record

_registry: dict[str, Instruction] = {}
# (exact key, entries): metadata for the Record of that one call, if made now.
_extra: contextvars.ContextVar[tuple[bytes, dict] | None] = contextvars.ContextVar(
    "asr_extra_metadata", default=None
)


@contextlib.contextmanager
def extra_metadata(key: bytes, entries: dict[str, Any]) -> Iterator[None]:
    """Add `entries` to the metadata of the Record of the call with index key
    `key`, if it is computed inside this block (a workflow notes the attempts
    that came before it); calls with other keys are not touched."""
    token = _extra.set((key, entries) if entries else None)
    try:
        yield
    finally:
        _extra.reset(token)


class InstructionError(Exception):
    """An instruction was declared or called in a way that cannot work."""


class Instruction:
    """A function wrapped by `@instruction`. Calling it returns a Record."""

    def __init__(
        self,
        function: Callable,
        name: str,
        version: int = 0,
        *,
        rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL,
        packages: Iterable[str] = (),
        migrations: Iterable = (),
    ):
        self.function = function
        self.name = name
        self.version = int(version)
        self.rtol = rtol
        self.atol = atol
        self.packages = tuple(packages)
        self.migrations = list(migrations)
        self.signature = inspect.signature(function)
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<Instruction {self.name} v{self.version}>"

    @property
    def description(self) -> str:
        """First line of the function's docstring, else of its module's."""
        module = inspect.getmodule(self.function)
        for doc in (inspect.getdoc(self.function), inspect.getdoc(module)):
            if doc and doc.strip():
                return doc.strip().splitlines()[0]
        return ""

    def arguments(self, *args, **kwargs) -> dict[str, Any]:
        return bind(self.signature, args, kwargs)

    def terms(self, arguments: dict[str, Any]) -> IndexTerms:
        return index_terms(self.name, self.version, arguments)

    def lookup(
        self,
        arguments: dict[str, Any],
        store: BaseStore | None = None,
        terms: IndexTerms | None = None,
    ) -> Record | None:
        """The cached Record of this call, or None (no dependency logged)."""
        store = store or context.get_store()
        terms = terms or self.terms(arguments)
        searches = (
            lambda: store.find(terms.exact),
            lambda: store.find_similar(terms.shape, terms.floats, self.rtol, self.atol),
        )
        with store.one_view():  # one read of the logs for both searches
            for search in searches:  # the tolerance search only after an exact miss
                for obj in search():
                    if Record.is_record(obj):
                        return Record.from_stored(obj)
        return None

    def __call__(self, *args, **kwargs) -> Record:
        arguments = self.arguments(*args, **kwargs)
        store = context.get_store()
        terms = self.terms(arguments)
        if any(f.key == terms.exact for f in context.running()):
            raise InstructionError(
                f"{self.name} calls itself with the same arguments: it would never end"
            )
        record = self._lookup_on_root(arguments, store, terms)
        if record is None:
            record = self._compute(arguments, store, terms)
        context.register_dependency(record.uid, record.oid)
        return record

    def _lookup_on_root(self, arguments, store, terms) -> Record | None:
        # Under MPI rank 0 alone reads the store; the world is made first.
        return mpi.on_root(lambda: self.lookup(arguments, store, terms))

    def _compute(self, arguments, store: BaseStore, terms: IndexTerms) -> Record:
        if mpi.size() > 1:
            return self._compute_mpi(arguments, store, terms)
        with store.lock(f"call:{terms.exact.hex()}"):
            store.refresh()
            record = self.lookup(arguments, store, terms)
            if record is not None:
                return record
            return self._run_and_save(arguments, store, terms)

    def _compute_mpi(self, arguments, store, terms) -> Record:
        # Rank 0 holds the call's lock and writes; every rank runs the
        # function (GPAW parallelises it) and they agree on its outcome,
        # so a rank that fails alone fails them all and nobody waits.
        lock = store.lock(f"call:{terms.exact.hex()}") if mpi.is_root() else None
        with lock or contextlib.nullcontext():

            def look_again() -> Record | None:
                store.refresh()
                return self.lookup(arguments, store, terms)

            found = mpi.on_root(look_again)
            if found is not None:
                return found
            record = mpi.on_all(lambda: self._run(arguments, terms))
            return mpi.on_root(lambda: self._save(record, store, terms))

    def _run_and_save(self, arguments, store, terms) -> Record:
        return self._save(self._run(arguments, terms), store, terms)

    def _run(self, arguments: dict[str, Any], terms: IndexTerms) -> Record:
        store = context.get_store()
        root = getattr(store, "root", None)
        directory = directory_in(root)
        log_path = context.log_path_for(store, self.name, terms.exact)
        start = now()
        with context.frame(self.name, terms.exact, log_path) as frame:
            result = self.function(**arguments)
        end = now()
        metadata = run_metadata(start, end, self.packages, directory)
        extra = _extra.get()
        if extra is not None and extra[0] == terms.exact:
            metadata.update(extra[1])
        if frame.log is not None:  # something wrote to it: name it
            metadata["log"] = os.path.relpath(log_path, os.path.dirname(root))
        return Record(
            name=self.name,
            version=self.version,
            arguments=arguments,
            result=result,
            metadata=metadata,
            dependencies=[Dependency(u, o) for u, o in frame.dependencies.items()],
        )

    def _save(self, record: Record, store: BaseStore, terms: IndexTerms) -> Record:
        record.result = store_files(record.result, store)
        record.arguments = store_files(record.arguments, store)
        try:
            obj = store.commit(record.to_payload(), index=terms)
        except TypeError as err:
            raise ArgumentError(
                f"the result of {self.name} cannot be stored: {err}"
            ) from None
        record.uid, record.oid = obj.uid, obj.oid
        return record


def instruction(
    name: str,
    version: int = 0,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    packages: Iterable[str] = (),
    migrations: Iterable = (),
) -> Callable[[Callable], Instruction]:
    """Declare a function as the instruction `name` (e.g. ``"asr.gs"``).

    Bump `version` when the function's results change meaning; `rtol` and
    `atol` say when float arguments count as equal; `packages` names extra
    packages whose versions the Records should note.
    """

    def wrap(function: Callable) -> Instruction:
        wrapped = Instruction(
            function,
            name,
            version,
            rtol=rtol,
            atol=atol,
            packages=packages,
            migrations=migrations,
        )
        _registry[name] = wrapped
        return wrapped

    return wrap


def registry() -> dict[str, Instruction]:
    return dict(_registry)
