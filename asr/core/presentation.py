"""Short, readable renderings of stored values (Atoms, arrays, Results...).

A stored Result whose class this process has not loaded decodes as a
`Tagged` (reading a store never imports code); `UnloadedResult` shows it as
a table of its keys, so it reads like a Result rather than like a repr.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import RenderableType

from asr.store import Tagged

from .tables import Row, html_table, rich_table, text

RESULT_TAG = "result:"
SIGNIFICANT = 6  # digits of a float shown in tables and summaries

_ARRAY_FORMAT = {
    "float_kind": lambda x: number(x),
    "complex_kind": lambda x: number(x),
}


def number(value: float | complex) -> str:
    """A float with at most `SIGNIFICANT` digits: 1.69832, not 1.69832000001."""
    return f"{value:.{SIGNIFICANT}g}"


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
            shown = np.array2string(value, separator=", ", formatter=_ARRAY_FORMAT)
            return shown.replace("\n", "")
        return f"array{value.shape} {value.dtype}"
    if isinstance(value, np.generic):
        return _summary(value.item())
    if isinstance(value, (float, complex)):
        return number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Tagged):
        unloaded = UnloadedResult.of(value)
        if unloaded is not None:
            return unloaded.summary()
        return f"<{value.tag}> {_summary(value.data)}"
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


def is_scalar(value: Any) -> bool:
    """Values one-line summaries of Results show (numbers and strings)."""
    return isinstance(value, (bool, int, float, str, np.bool_, np.number))


def result_summary(name: str, pairs: list[tuple[str, Any]]) -> str:
    """``Name(key=value, ...)`` of a Result's first six scalar keys."""
    scalars = [f"{k}={summarise(v, 20)}" for k, v in pairs if is_scalar(v)]
    return f"{name}({', '.join(scalars[:6])})"


@dataclass(frozen=True)
class UnloadedResult:
    """A stored Result whose class is not loaded: its tag and its keys."""

    tag: str
    data: dict[str, Any]

    @classmethod
    def of(cls, value: Any) -> UnloadedResult | None:
        """The view of `value` if it is a Tagged Result, else None."""
        if (
            isinstance(value, Tagged)
            and value.tag.startswith(RESULT_TAG)
            and isinstance(value.data, dict)
        ):
            return cls(value.tag, value.data)
        return None

    @property
    def module(self) -> str:
        return self.tag[len(RESULT_TAG) :].rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.tag.rpartition(".")[2].removeprefix(RESULT_TAG)

    @property
    def title(self) -> str:
        where = f"{self.module}, " if self.module else ""
        return f"{self.name} ({where}not loaded)"

    def key_rows(self, width: int = 60) -> list[Row]:
        return [Row(str(k), summarise(v, width)) for k, v in self.data.items()]

    def summary(self) -> str:
        return result_summary(self.name, [(str(k), v) for k, v in self.data.items()])

    def __rich__(self) -> RenderableType:
        return rich_table(self.title, self.key_rows(), columns=("key", "value"))

    def _repr_html_(self) -> str:
        return html_table(self.title, self.key_rows(80), columns=("key", "value"))


def presentable(value: Any) -> Any:
    """`value`, or the view that renders it if it is an unloaded Result."""
    unloaded = UnloadedResult.of(value)
    return value if unloaded is None else unloaded


def rich_value(value: Any, width: int = 200) -> RenderableType:
    """A rich renderable for a value: Results render themselves, else text."""
    value = presentable(value)
    if hasattr(type(value), "__rich__") or hasattr(type(value), "__rich_console__"):
        return value
    return text(summarise(value, width))
