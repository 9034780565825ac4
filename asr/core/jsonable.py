"""Plain JSON data from anything a Record holds, for programs and downloads.

Arrays become (nested) lists, bytes ``{"base64": ...}``, complex numbers
``{"real": ..., "imag": ...}``, unknown registered types ``{"tag": ...,
"data": ...}``, Atoms their symbols, positions, cell and pbc, and
NaN/infinities the strings "NaN", "Infinity" and "-Infinity" (strict JSON).
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from ase import Atoms

from asr.store import ObjectId, Tagged, Uid

_json_converters: dict[type, Callable[[Any], Any]] = {}


def register_json(cls: type, convert: Callable[[Any], Any]) -> None:
    """Convert values of type `cls` (or a subclass) to JSON-able data."""
    _json_converters[cls] = convert


def _lookup(value: Any) -> Callable[[Any], Any] | None:
    for cls in type(value).__mro__:
        if cls in _json_converters:
            return _json_converters[cls]
    return None


def to_json(value: Any) -> Any:
    """Plain JSON data for `--json` output.

    Arrays become (nested) lists, bytes ``{"base64": ...}``, complex numbers
    ``{"real": ..., "imag": ...}``, unknown registered types
    ``{"tag": ..., "data": ...}``, and NaN/infinities the strings "NaN",
    "Infinity" and "-Infinity" (so the output is strict JSON).
    """
    convert = _lookup(value)
    if convert is not None:
        return to_json(convert(value))
    if value is None or isinstance(value, (bool, int, str)):
        return str(value) if isinstance(value, (ObjectId, Uid)) else value
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, complex):
        return {"real": _json_float(value.real), "imag": _json_float(value.imag)}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return {"real": to_json(value.real), "imag": to_json(value.imag)}
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Tagged):
        return {"tag": value.tag, "data": to_json(value.data)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_json(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    return str(value)


def _json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _atoms_json(atoms: Atoms) -> dict[str, Any]:
    return {
        "symbols": atoms.get_chemical_symbols(),
        "positions": atoms.positions,
        "cell": atoms.cell.array,
        "pbc": atoms.pbc,
    }


register_json(Atoms, _atoms_json)
