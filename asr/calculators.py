"""Calculators from plain specifications, so they can be cached arguments.

A specification is a dict such as ``{"name": "gpaw", "mode": {"name": "pw",
"ecut": 500}, "kpts": {"density": 6}, "xc": "PBE"}``; `get_calculator` turns
it into an ASE calculator. ``{"name": "emt"}`` gives ASE's EMT for quick runs;
any other name is looked up among ASE's calculators.

GPAW's text output goes to the log of the running instruction
(`.asr/runlogs/`, named in the Record's metadata) unless the specification
gives a `txt` of its own (a file name, or "-" for the terminal); ``"txt":
None`` means "no choice made", as in the recipes' defaults.
"""

from __future__ import annotations

from typing import Any

from ase.calculators.calculator import Calculator

from asr.core.context import run_log


class CalculatorSpecError(ValueError):
    """A calculator specification names no known calculator."""


def gpaw_txt(txt: Any = None) -> Any:
    """GPAW's `txt`: the one given, else the running instruction's log."""
    return txt if txt is not None else run_log()


def describe_calculator(spec: dict[str, Any] | str) -> str:
    """One line on a specification: name, mode, cutoff, xc, k-points."""
    if isinstance(spec, str):
        spec = {"name": spec}
    words = [str(spec.get("name", "?"))]
    mode = spec.get("mode")
    if isinstance(mode, dict):
        words.append(str(mode.get("name", "")))
        if "ecut" in mode:
            words.append(f"cutoff {mode['ecut']} eV")
    elif mode is not None:
        words.append(str(mode))
    if "xc" in spec:
        words.append(str(spec["xc"]))
    kpts = spec.get("kpts")
    if isinstance(kpts, dict) and "density" in kpts:
        words.append(f"k-point density {kpts['density']} per Å⁻¹")
    elif isinstance(kpts, dict) and "size" in kpts:
        words.append("k-points " + "x".join(str(n) for n in kpts["size"]))
    elif kpts is not None:
        words.append(f"k-points {kpts}")
    return ", ".join(w for w in words if w)


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

        params["txt"] = gpaw_txt(params.get("txt"))
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
