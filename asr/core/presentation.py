"""Short, readable renderings of stored values (Atoms, arrays, Results...)."""

from __future__ import annotations

from typing import Any

import numpy as np


def summarise(value: Any, width: int = 80) -> str:
    """One line that says what a value is, cut to `width` characters."""
    text = _summary(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(value: Any) -> str:
    from ase import Atoms

    if isinstance(value, Atoms):
        pbc = "".join("FT"[int(p)] for p in value.pbc)
        return f"Atoms({value.get_chemical_formula()}, pbc={pbc})"
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=4, separator=",")
        return f"array{value.shape} {value.dtype}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_summary(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_summary(v) for v in value[:8])
        return f"[{inner}{', …' if len(value) > 8 else ''}]"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    summary = getattr(value, "summary", None)
    if callable(summary):
        return summary()
    return repr(value)


def rich_value(value: Any):
    """A rich renderable for a value (Results render themselves)."""
    if hasattr(value, "__rich__"):
        return value
    return summarise(value, 200)
