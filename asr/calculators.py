"""Calculators from plain specifications, so they can be cached arguments.

A specification is a dict such as ``{"name": "gpaw", "mode": {"name": "pw",
"ecut": 500}, "kpts": {"density": 6}, "xc": "PBE"}``; `get_calculator` turns
it into an ASE calculator. ``{"name": "emt"}`` gives ASE's EMT for quick runs;
any other name is looked up among ASE's calculators.
"""

from __future__ import annotations

from typing import Any

from ase.calculators.calculator import Calculator


class CalculatorSpecError(ValueError):
    """A calculator specification names no known calculator."""


def get_calculator(spec: dict[str, Any] | str, **overrides: Any) -> Calculator:
    """An ASE calculator for `spec` (a dict with a "name", or just a name)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if "name" not in spec:
        raise CalculatorSpecError(
            f"calculator specification {spec!r} has no 'name' (e.g. 'gpaw', 'emt')"
        )
    params = {k: v for k, v in spec.items() if k != "name"}
    params.update(overrides)
    name = spec["name"].lower()
    if name == "gpaw":
        from gpaw import GPAW

        params.setdefault("txt", None)
        return GPAW(**params)
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT(**params)
    from ase.calculators.calculator import get_calculator_class

    try:
        cls = get_calculator_class(name)
    except (ImportError, KeyError, ValueError) as err:
        raise CalculatorSpecError(
            f"unknown calculator {spec['name']!r}: {err}"
        ) from None
    return cls(**params)


#: A GPAW specification that runs in seconds, for trying a recipe out
#: (`asr help NAME` shows it); its results are not converged.
QUICK_GPAW: dict[str, Any] = {
    "name": "gpaw",
    "mode": {"name": "pw", "ecut": 250},
    "xc": "PBE",
    "kpts": {"density": 2.0, "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
}
