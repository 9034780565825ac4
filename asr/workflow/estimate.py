"""Wall times estimated from the Records already in a store.

Every Record notes how long its call took (``metadata["wall_time"]``) and
with how many MPI ranks; its arguments say what drives the cost: the atoms
(how many, how many valence electrons), the k-points and the plane-wave
cutoff of a calculator specification. Per instruction name we fit

    ln(time) = c0 + sum_j c_j ln(feature_j)

by least squares: a power law in each feature, the simplest model that
covers "twice the atoms, eight times the time" and "twice the cores, half
the time" alike. `run(..., resources="auto")` asks for the prediction
times a margin (at least a floor); with fewer than `MIN_EXAMPLES` Records
of an instruction it keeps the declared resources. `leave_one_out`
measures how honest the fits are: each Record predicted from the others.
The host is not a feature: Records made on different machines add scatter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: What may drive an instruction's wall time, in the order they are fitted.
FEATURES = ("atoms", "electrons", "kpts", "ecut", "cores")
#: Fewer Records than this of an instruction: no fit (the declared resources).
MIN_EXAMPLES = 5
MARGIN = 2.0
FLOOR = 600  # seconds: MyQueue's own default wall time
NOBLE_GASES = (0, 2, 10, 18, 36, 54, 86, 118)
GPAW_DEFAULT_ECUT = 340.0


@dataclass
class Example:
    """One Record as the fit sees it."""

    name: str
    uid: str
    wall_time: float
    features: dict[str, float]
    host: str = ""


@dataclass
class Fit:
    """ln(time) = coefficients[0] + sum coefficients[j+1] ln(features[j])."""

    name: str
    features: tuple[str, ...]
    coefficients: np.ndarray
    examples: int
    spread: float  # root-mean-square residual of ln(time)

    def predict(self, features: Mapping[str, float]) -> float | None:
        """Seconds for a call with these features (None: one is unknown)."""
        if any(features.get(f, 0) <= 0 for f in self.features):
            return None
        x = [1.0] + [math.log(features[f]) for f in self.features]
        return float(math.exp(np.dot(self.coefficients, x)))

    def formula(self) -> str:
        """The power law as text: ``1.2e-03 s * atoms^2.91 * cores^-0.95``."""
        terms = [f"{math.exp(self.coefficients[0]):.3g} s"]
        terms += [f"{f}^{c:.2f}" for f, c in zip(self.features, self.coefficients[1:])]
        return " * ".join(terms)


@dataclass
class Check:
    """A Record's wall time against its prediction from the other Records."""

    example: Example
    predicted: float | None
    tmax: int | None  # what resources="auto" would have asked for

    @property
    def ratio(self) -> float | None:
        if self.predicted is None:
            return None
        return self.predicted / max(self.example.wall_time, 1e-9)

    @property
    def hit_limit(self) -> bool:
        return self.tmax is not None and self.example.wall_time > self.tmax

    def beyond(self, margin: float) -> bool:
        """Measured more than `margin` x predicted: would have hit a limit
        without the floor (the floor hides this for calls of seconds)."""
        return self.ratio is not None and self.ratio * margin < 1.0


@dataclass
class Honesty:
    """Leave-one-out summary of one instruction's fits."""

    name: str
    examples: int
    predicted: int
    median_ratio: float | None
    lowest_ratio: float | None  # the worst under-prediction
    highest_ratio: float | None
    hits: int  # would have run out of the wall time resources="auto" asks for
    beyond_margin: int  # measured more than margin x predicted (no floor)


# -- features ---------------------------------------------------------------


def valence(numbers: Iterable[int]) -> int:
    """Approximate valence electrons: those outside the previous noble-gas
    shell, less a filled 4f or 5f shell (what PAW setups mostly treat)."""
    total = 0
    for z in numbers:
        z = int(z)
        core = max(n for n in NOBLE_GASES if n < z) if z > 0 else 0
        outer = z - core
        if z > 71 and z not in range(89, 104):
            outer -= 14
        total += max(outer, 1)
    return total


def _atoms_in(arguments: Mapping[str, Any]):
    from ase import Atoms

    if isinstance(arguments.get("atoms"), Atoms):
        return arguments["atoms"]
    for value in arguments.values():
        if isinstance(value, Atoms):
            return value
    return None


def kpoint_count(kpts: Any, atoms) -> float | None:
    """k-points of a calculator's ``kpts`` (a size, a density, a list)."""
    from ase.calculators.calculator import kpts2sizeandoffsets

    if kpts is None:
        return 1.0
    if isinstance(kpts, Mapping):
        if "path" in kpts:
            return float(kpts.get("npoints", 0)) or None
        try:
            size, _ = kpts2sizeandoffsets(atoms=atoms, **kpts)
        except (TypeError, ValueError):
            return None
        return float(np.prod(size))
    array = np.asarray(kpts)
    if array.ndim == 1 and array.size == 3:
        return float(np.prod(array))
    if array.ndim == 2:
        return float(len(array))
    return None


def features(arguments: Mapping[str, Any], ranks: int = 1) -> dict[str, float]:
    """What drives the cost of a call with these arguments on `ranks` ranks."""
    found: dict[str, float] = {"cores": float(ranks)}
    atoms = _atoms_in(arguments)
    if atoms is not None:
        found["atoms"] = float(len(atoms))
        found["electrons"] = float(valence(atoms.numbers))
    spec = arguments.get("calculator")
    if isinstance(spec, Mapping):
        if atoms is not None:
            kpts = kpoint_count(spec.get("kpts"), atoms)
            if kpts:
                found["kpts"] = kpts
        mode = spec.get("mode")
        if isinstance(mode, Mapping) and mode.get("name") == "pw":
            found["ecut"] = float(mode.get("ecut", GPAW_DEFAULT_ECUT))
        elif mode == "pw":
            found["ecut"] = GPAW_DEFAULT_ECUT
    return found


# -- examples from a store --------------------------------------------------


def examples(store, name: str | None = None) -> dict[str, list[Example]]:
    """The Records of `store` (of instruction `name`), by instruction name."""
    from asr.core import Record

    found: dict[str, list[Example]] = {}
    for obj in store.records():
        if not Record.is_record(obj):
            continue
        payload = obj.payload
        if name is not None and payload.get("name") != name:
            continue
        meta = payload.get("metadata") or {}
        wall = meta.get("wall_time")
        if not isinstance(wall, int | float) or wall <= 0:
            continue
        ranks = int(meta.get("mpi_ranks") or 1)
        example = Example(
            payload["name"],
            str(obj.uid),
            float(wall),
            features(payload.get("arguments") or {}, ranks),
            str(meta.get("host", "")),
        )
        found.setdefault(example.name, []).append(example)
    return found


# -- fitting ----------------------------------------------------------------


def fit(name: str, found: list[Example], least: int = MIN_EXAMPLES) -> Fit | None:
    """The power law of `found`'s wall times (None: fewer than `least`).

    Only features every example has and that vary are fitted (a constant
    one is part of the prefactor), at most one per two examples beyond the
    first, in the order of `FEATURES`; a feature that varies with those
    already chosen (the electrons of atoms of one element) is left out,
    so each exponent means what its name says.
    """
    if len(found) < max(least, 2):
        return None
    y = np.log([e.wall_time for e in found])
    matrix = np.ones((len(found), 1))
    chosen: list[str] = []
    for f in FEATURES:
        if len(chosen) >= (len(found) - 1) // 2:
            break
        values = [e.features.get(f, 0.0) for e in found]
        if min(values) <= 0:
            continue
        wider = np.column_stack([matrix, np.log(values)])
        if np.linalg.matrix_rank(wider, tol=1e-9) == wider.shape[1]:
            matrix = wider
            chosen.append(f)
    coefficients, *_ = np.linalg.lstsq(matrix, y, rcond=None)
    residuals = y - matrix @ coefficients
    spread = float(np.sqrt(np.mean(residuals**2)))
    return Fit(name, tuple(chosen), coefficients, len(found), spread)


def tmax_for(predicted: float, margin: float = MARGIN, floor: float = FLOOR) -> int:
    """Seconds to ask for: the prediction times `margin`, at least `floor`,
    rounded up to whole minutes (MyQueue's ``"95m"``)."""
    seconds = max(predicted * margin, floor, 1.0)
    return int(math.ceil(seconds / 60.0)) * 60


def time_string(seconds: int) -> str:
    """MyQueue's form of a wall time: ``"2h"``, ``"95m"``."""
    from myqueue.resources import seconds_to_short_time_string

    return seconds_to_short_time_string(seconds)


def leave_one_out(
    found: list[Example],
    margin: float = MARGIN,
    floor: float = FLOOR,
    least: int = MIN_EXAMPLES,
) -> list[Check]:
    """Each example predicted by a fit of all the others (honest: a Record
    never predicts itself); `least` others are needed for a fit."""
    checks = []
    for i, example in enumerate(found):
        others = fit(example.name, found[:i] + found[i + 1 :], least)
        predicted = others.predict(example.features) if others else None
        tmax = tmax_for(predicted, margin, floor) if predicted is not None else None
        checks.append(Check(example, predicted, tmax))
    return checks


def honesty(name: str, checks: list[Check], margin: float = MARGIN) -> Honesty:
    """The summary of `checks` (of one instruction, or of all: "all")."""
    ratios = [c.ratio for c in checks if c.ratio is not None]
    return Honesty(
        name,
        len(checks),
        len(ratios),
        float(np.median(ratios)) if ratios else None,
        min(ratios) if ratios else None,
        max(ratios) if ratios else None,
        sum(c.hit_limit for c in checks),
        sum(c.beyond(margin) for c in checks),
    )


def check_store(
    store,
    name: str | None = None,
    margin: float = MARGIN,
    floor: float = FLOOR,
    least: int = MIN_EXAMPLES,
) -> dict[str, tuple[Fit | None, list[Check]]]:
    """Every instruction of `store` (or `name`): its fit, and each of its
    Records predicted from the others (`leave_one_out`)."""
    found = examples(store, name)
    return {
        instruction: (
            fit(instruction, found[instruction], least),
            leave_one_out(found[instruction], margin, floor, least),
        )
        for instruction in sorted(found)
    }


# -- resources="auto" --------------------------------------------------------


@dataclass
class Estimator:
    """The fits of one store, made once per process (MyQueue collects many
    folders in one process; the store is read once)."""

    store: Any
    _examples: dict[str, list[Example]] | None = None
    _fits: dict[str, Fit | None] = field(default_factory=dict)

    def fit(self, name: str) -> Fit | None:
        if self._examples is None:
            self._examples = examples(self.store)
        if name not in self._fits:
            self._fits[name] = fit(name, self._examples.get(name, []))
        return self._fits[name]

    def resources(
        self,
        name: str,
        arguments: Mapping[str, Any],
        declared: dict[str, Any],
        default_cores: int = 1,
        margin: float = MARGIN,
        floor: float = FLOOR,
    ) -> dict[str, Any]:
        """`declared` with its wall time replaced by the estimate's, when the
        store has enough Records of `name` and the arguments are known."""
        model = self.fit(name)
        if model is None:
            return declared
        ranks = declared.get("processes") or declared.get("cores") or default_cores
        predicted = model.predict(features(arguments, int(ranks)))
        if predicted is None:
            return declared
        return {**declared, "tmax": time_string(tmax_for(predicted, margin, floor))}
