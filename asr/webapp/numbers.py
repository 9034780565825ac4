"""Numbers printed with the precision their meaning allows.

A key may declare its decimals (``key(..., digits=2)``, kept in the
database's ``key_digits``); otherwise a float gets about four significant
figures and at most three decimals (1.698 eV, 76.51 %, 0.012 eV/atom), so
no page shows the six digits of noise a calculation leaves (1.69832).
"""

from __future__ import annotations

import math
from typing import Any

#: At most this many decimals by default (meV resolution for eV).
MAX_DECIMALS = 3
#: About this many significant figures by default.
SIGNIFICANT = 4


def default_decimals(value: float) -> int | None:
    """Decimals for `value`; None: too large or small, write it with an exponent."""
    size = abs(value)
    if size == 0:
        return 0
    if size >= 10**SIGNIFICANT * 10 or size < 10**-MAX_DECIMALS:
        return None
    return min(MAX_DECIMALS, max(0, SIGNIFICANT - 1 - math.floor(math.log10(size))))


def format_number(value: float, digits: int | None = None) -> str:
    """`value` with `digits` decimals, or as many as its size calls for."""
    if not math.isfinite(value):
        return str(value)
    if digits is None:
        digits = default_decimals(value)
        if digits is None:
            return f"{value:.3g}"
    return f"{value:.{digits}f}"


def format_value(value: Any, digits: int | None = None) -> str:
    """A value as short text for a table cell."""
    if value is None:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return format_number(value, digits)
    if isinstance(value, (int, str)):
        return str(value)
    from asr.core.presentation import summarise

    return summarise(value, 80)
