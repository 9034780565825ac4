"""Failures analysed and reacted upon: classes, handler policies, retries.

A task whose instruction fails does not just stop. Its exception is
*classified* (`classify`): the SCF did not converge, there were too few
bands, memory ran out, the wall time ran out, a node failed, the input
structure is broken, or something else. A *policy* names, per class, the
steps to try one after the other (`DEFAULT_POLICY`: stronger mixing, then a
smaller Fermi smearing, then more iterations for an unconverged SCF; more
bands, twice, for too few bands). Each step changes one argument; the call
is made again with the changed arguments until it succeeds or the class's
steps are used up. Then the task gives up with a clear status.

Caching stays honest: the Record made with changed arguments is the Record
of *those* arguments. The call the workflow asked for resolves to it only
through a redirect object written when healing succeeded (`find_call`
follows it; a plain `Instruction.lookup` does not). Every failed attempt is
kept in the store as a failure object, and the final Record's
``metadata["attempts"]`` says which step changed which argument, and why.

Failures, redirects and Records of one call share its index key: one index
lookup finds everything about a call (`call_objects`).

Policies are declared per recipe (`declare`) and overridden per project
(``run(..., handlers={"scf": ["iterations"]})``); steps are named functions
(`STEPS`, `register_step`), so a policy is plain data that travels in the
task file. Wall time and memory are resources, not arguments: the steps
``time`` and ``cores`` are taken by `asr workflow run`, which resubmits the
task with more (see `asr.workflow.resubmit`).
"""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asr.core import Instruction, Record
from asr.store import BaseStore, IndexTerms, StoredObject

from .errors import WorkflowError

# The classes of failure.
SCF = "scf"
BANDS = "bands"
MEMORY = "memory"
TIMEOUT = "timeout"
NODE = "node"
STRUCTURE = "structure"
UNKNOWN = "unknown"

CLASS_TEXT = {
    SCF: "SCF not converged",
    BANDS: "too few bands",
    MEMORY: "out of memory",
    TIMEOUT: "wall time exceeded",
    NODE: "node failure",
    STRUCTURE: "broken input structure",
    UNKNOWN: "unclassified failure",
}

FAILURE = "asr.failure"
REDIRECT = "asr.redirect"

# Exception class names (anywhere in the MRO) -> failure class. Names, not
# classes: classifying must not import GPAW.
_BY_TYPE = {
    "TooFewBandsError": BANDS,
    "KohnShamConvergenceError": SCF,
    "MemoryError": MEMORY,
}
# Words of the message -> failure class, for errors without a class of their own.
# A time-out is only what a scheduler says (MyQueue's TIMEOUT, SLURM's "DUE TO
# TIME LIMIT"): a socket's or a lock's time-out is no reason for a longer job.
_BY_TEXT = (
    ("too few bands", BANDS),
    ("out of memory", MEMORY),
    ("memoryerror", MEMORY),
    ("oom-kill", MEMORY),
    ("oom_kill", MEMORY),
    ("signal 9", MEMORY),
    ("cannot allocate memory", MEMORY),
    ("due to time limit", TIMEOUT),
    ("node fail", NODE),
    ("node_fail", NODE),
    ("atoms too close", STRUCTURE),
    ("structure", STRUCTURE),
)
# MyQueue's states of a task that did not finish by itself.
_BY_STATE = {"TIMEOUT": TIMEOUT, "MEMORY": MEMORY}


def classify(error: BaseException | str, state: str | None = None) -> str:
    """The class of a failure: an exception, or MyQueue's state and error text."""
    if state in _BY_STATE:
        return _BY_STATE[state]
    if isinstance(error, BaseException):
        for cls in type(error).__mro__:
            if cls.__name__ in _BY_TYPE:
                return _BY_TYPE[cls.__name__]
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            return UNKNOWN
        text = f"{type(error).__name__}: {error}"
    else:
        text = str(error)
    lower = text.lower()
    for words, cls in _BY_TEXT:
        if words in lower:
            return cls
    return UNKNOWN


# -- steps: one change of one argument --------------------------------------


@dataclass(frozen=True)
class Change:
    """What one step changed: `argument` (a dotted path) from `old` to `new`."""

    step: str
    argument: str
    old: Any
    new: Any

    def text(self) -> str:
        return f"{self.argument}: {self.old!r} -> {self.new!r}"


Step = Callable[[dict[str, Any]], "tuple[dict[str, Any], Change] | None"]
STEPS: dict[str, Step] = {}


def register_step(name: str, step: Step) -> None:
    """Name a step for policies: it takes the arguments, returns the changed
    arguments and the `Change`, or None when it does not apply."""
    STEPS[name] = step


def _gpaw_step(name: str, key: str, change: Callable[[Any], Any]) -> Step:
    """A step that changes ``calculator[key]`` of a GPAW specification."""

    def step(arguments: dict[str, Any]) -> tuple[dict[str, Any], Change] | None:
        spec = arguments.get("calculator")
        if not isinstance(spec, dict) or str(spec.get("name", "")).lower() != "gpaw":
            return None
        old = spec.get(key)
        new = change(old)
        if new is None or new == old:
            return None
        changed = copy.deepcopy(arguments)
        changed["calculator"][key] = new
        return changed, Change(name, f"calculator.{key}", old, new)

    return step


def _stronger_mixing(old: Any) -> dict | None:
    """Half the density mixed in per iteration (GPAW's default beta: 0.05)."""
    mixer = dict(old) if isinstance(old, dict) else {}
    beta = float(mixer.get("beta", 0.05))
    if beta <= 0.01:
        return None
    mixer["beta"] = round(beta / 2, 6)
    return mixer


def _smaller_smearing(old: Any) -> dict | None:
    """Half the Fermi-Dirac width (not below 0.01 eV)."""
    if not isinstance(old, dict) or "width" not in old:
        return None
    width = float(old["width"])
    if width <= 0.01:
        return None
    return {**old, "width": round(max(width / 2, 0.01), 6)}


def _more_iterations(old: Any) -> int:
    """Twice the SCF iterations, at least GPAW's default (333)."""
    return max(2 * int(old or 333), 333)


def _more_bands(old: Any) -> int | str:
    """Twice the bands: ``n`` -> ``2n``; ``"p%"`` -> ``"(p+100)%"``."""
    if old is None:
        return "200%"
    if isinstance(old, str) and old.endswith("%"):
        return f"{float(old[:-1]) + 100:g}%"
    return 2 * int(old)


register_step("mixing", _gpaw_step("mixing", "mixer", _stronger_mixing))
register_step("smearing", _gpaw_step("smearing", "occupations", _smaller_smearing))
register_step("iterations", _gpaw_step("iterations", "maxiter", _more_iterations))
register_step("bands", _gpaw_step("bands", "nbands", _more_bands))

#: Steps taken by `asr workflow run` (resources, not arguments).
RESOURCE_STEPS = ("time", "cores")

# -- policies ----------------------------------------------------------------

Policy = dict[str, list[str]]

#: For every instruction with a GPAW `calculator`, unless declared otherwise.
DEFAULT_POLICY: Policy = {
    SCF: ["mixing", "smearing", "iterations"],
    BANDS: ["bands", "bands"],
    TIMEOUT: ["time", "time"],
    MEMORY: ["cores", "cores"],
    NODE: ["time"],  # the same resources once more
}
_DECLARED: dict[str, Policy] = {}


def declare(name: str, policy: Policy) -> None:
    """The policy of instruction `name` (replaces the default, class by class)."""
    check_policy(policy)
    _DECLARED[name] = policy


def check_policy(policy: Policy) -> None:
    for cls, steps in policy.items():
        if cls not in CLASS_TEXT:
            raise WorkflowError(
                f"no failure class {cls!r}: use {', '.join(sorted(CLASS_TEXT))}"
            )
        unknown = [s for s in steps if s not in STEPS and s not in RESOURCE_STEPS]
        if unknown:
            known = sorted({*STEPS, *RESOURCE_STEPS})
            raise WorkflowError(
                f"unknown handler steps {unknown} for {cls!r}: use {', '.join(known)}"
            )


def policy_for(name: str, overrides: Policy | None = None) -> Policy:
    """The declared policy of `name` (else the default), with project overrides."""
    policy = {**DEFAULT_POLICY, **_DECLARED.get(name, {})}
    if overrides:
        check_policy(overrides)
        policy.update(overrides)
    return {cls: list(steps) for cls, steps in policy.items()}


# -- a call, its failures and its redirect ------------------------------------


def call_objects(store: BaseStore, terms: IndexTerms) -> list[StoredObject]:
    """Records, failures and redirects indexed under this call's exact key."""
    return store.find(terms.exact)


def find_call(
    instr: Instruction,
    arguments: dict[str, Any],
    store: BaseStore,
    terms: IndexTerms | None = None,
) -> Record | None:
    """The call's Record: its own, else the one a recorded redirect names."""
    terms = terms or instr.terms(arguments)
    record = instr.lookup(arguments, store, terms)
    if record is not None:
        return record
    return follow_redirect(store, terms)


def follow_redirect(store: BaseStore, terms: IndexTerms) -> Record | None:
    for obj in call_objects(store, terms):
        if _type(obj) == REDIRECT:
            target = store.get_ref(obj.payload["target"])
            if target is not None:
                return Record.from_stored(store.get(target))
    return None


def failures(store: BaseStore, terms: IndexTerms) -> list[StoredObject]:
    """The failure objects of a call, oldest first."""
    found = [obj for obj in call_objects(store, terms) if _type(obj) == FAILURE]
    return sorted(found, key=lambda obj: obj.payload.get("attempt", 0))


def _type(obj: StoredObject) -> Any:
    return obj.payload.get("type") if isinstance(obj.payload, dict) else None


class GaveUp(Exception):
    """A call failed, and its handlers could not heal it (see the message)."""


@dataclass
class Healer:
    """Runs one call, retrying with the policy's steps; notes every attempt.

    `earlier` are attempts made before this process (a resubmission after a
    time-out, written by `asr workflow run`).
    """

    instr: Instruction
    arguments: dict[str, Any]
    store: BaseStore
    policy: Policy
    write: bool = True  # rank 0 writes, as instructions do

    def run(self, earlier: list[dict] | None = None) -> Record:
        from asr.core.instruction import extra_metadata

        terms = self.instr.terms(self.arguments)
        attempts: list[dict] = list(earlier or [])
        used: dict[str, int] = {}
        arguments = self.arguments
        while True:
            number = len(attempts) + 1
            extra = {"attempts": attempts} if attempts else {}
            if attempts:
                extra["healed_call"] = terms.exact.hex()
            start = time.time()
            try:
                with extra_metadata(self.instr.terms(arguments).exact, extra):
                    record = self.instr(**arguments)
            except Exception as err:
                cls = classify(err)
                attempt = {
                    "attempt": number,
                    "class": cls,
                    "error": _one_line(err),
                    "wall_time": round(time.time() - start, 3),
                }
                tried = arguments
                change = self._next_change(cls, arguments, used)
                if change is not None:
                    arguments, step = change
                    attempt.update(handler=cls, **_change_data(step))
                attempt["failure"] = self._keep_failure(terms, tried, attempt, err)
                attempts.append(attempt)
                if change is None:
                    if len(attempts) == 1 or self._resubmits(cls):
                        raise  # the error as it was (a resubmission may heal it)
                    raise GaveUp(give_up_text(self.instr.name, cls, attempts)) from err
                continue
            if arguments is not self.arguments and self.write:
                self._redirect(terms, record, attempts)  # changed arguments only
            return record

    def _resubmits(self, cls: str) -> bool:
        """Does the policy heal `cls` with more resources (`resubmit`)?"""
        return any(step in RESOURCE_STEPS for step in self.policy.get(cls, []))

    def _next_change(
        self, cls: str, arguments: dict[str, Any], used: dict[str, int]
    ) -> tuple[dict[str, Any], Change] | None:
        steps = self.policy.get(cls, [])
        while used.get(cls, 0) < len(steps):
            name = steps[used.get(cls, 0)]
            used[cls] = used.get(cls, 0) + 1
            step = STEPS.get(name)
            found = None if step is None else step(arguments)
            if found is not None:
                return found
        return None

    def _keep_failure(
        self, terms: IndexTerms, arguments: dict, attempt: dict, err: BaseException
    ) -> str | None:
        if not self.write:
            return None
        trace = "".join(traceback.format_exception(err))
        return keep_failure(self.store, self.instr, terms, arguments, attempt, trace)

    def _redirect(self, terms: IndexTerms, record: Record, attempts: list) -> None:
        if follow_redirect(self.store, terms) is not None:
            return
        self.store.commit(
            {
                "type": REDIRECT,
                "name": self.instr.name,
                "version": self.instr.version,
                "arguments": self.arguments,
                "target": str(record.uid),
                "attempts": len(attempts) + 1,
                "changes": [_change_text(a) for a in attempts if "argument" in a],
            },
            index=terms,
        )


def keep_failure(
    store: BaseStore,
    instr: Instruction,
    terms: IndexTerms,
    arguments: dict,
    attempt: dict,
    trace: str,
) -> str:
    """Commit a failure object for one failed attempt of a call; its uid."""
    payload = {
        "type": FAILURE,
        "name": instr.name,
        "version": instr.version,
        "arguments": arguments,
        **{k: v for k, v in attempt.items() if k != "failure"},
        "metadata": _host_metadata(),
        "traceback": trace[-4000:],
    }
    try:
        obj = store.commit(payload, index=terms)
    except TypeError:  # arguments the store cannot hold: keep the rest
        payload["arguments"] = repr(arguments)[:2000]
        obj = store.commit(payload, index=terms)
    return str(obj.uid)


def _change_data(change: Change) -> dict:
    return {
        "step": change.step,
        "argument": change.argument,
        "old": change.old,
        "new": change.new,
    }


def _change_text(attempt: dict) -> str:
    return (
        f"{attempt['handler']}/{attempt['step']}: {attempt['argument']} "
        f"{attempt['old']!r} -> {attempt['new']!r}"
    )


def give_up_text(name: str, cls: str, attempts: list[dict]) -> str:
    text = CLASS_TEXT.get(cls, cls)
    tried = len(attempts)
    return (
        f"{name} gave up after {tried} attempt{'s' if tried > 1 else ''}: {text}, "
        f"no handler step left ({attempts[-1]['error']})"
    )


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:300]


def _host_metadata() -> dict:
    import os
    import socket

    return {"host": socket.gethostname(), "time": time.time(), "pid": os.getpid()}
