"""Arguments of a call: bind, normalise, and turn into index terms.

Defaults are filled in, so a call that spells out a default is the same call
as one that omits it. Registered types (Atoms, dataclasses, ...) are reduced
to plain data; then every float (Python floats and float arrays) is taken out
and replaced by a placeholder. What is left is the call's *shape*; the floats
are compared within a tolerance. The exact key hashes shape and floats.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

from asr.store import EncodeError, IndexTerms, Tagged, digest, encode
from asr.store.codec import registration, sorted_keys

_FLOAT = Tagged("float", None)


class ArgumentError(TypeError):
    """An argument cannot be stored or does not fit the instruction."""


def bind(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    """All parameters by name, defaults included, in signature order."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        raise ArgumentError(str(err)) from None
    given = set(bound.arguments)
    bound.apply_defaults()
    # A default dict (a calculator specification) must not be changed by a
    # call that mutates its argument: each call gets its own copy.
    arguments = {
        name: value if name in given else copy.deepcopy(value)
        for name, value in bound.arguments.items()
    }
    for name, parameter in signature.parameters.items():
        if parameter.kind is parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(name))
    return arguments


def _plain(value: Any, floats: list[np.ndarray]) -> Any:
    """`value` as plain data with floats replaced by placeholders."""
    t = type(value)
    if t is float:
        floats.append(np.array([value]))
        return _FLOAT
    if t is dict:  # in canonical key order: insertion order is not part of a call
        return {k: _plain(value[k], floats) for k in sorted_keys(value)}
    if t is list:
        return [_plain(v, floats) for v in value]
    if t is tuple:
        return tuple(_plain(v, floats) for v in value)
    if t is np.ndarray or isinstance(value, np.generic):
        if t is not np.ndarray and value.dtype.kind in "biuf":
            # numpy scalars are the plain numbers they hold
            return _plain(value.item(), floats)
        array = np.asarray(value)
        if array.dtype.kind == "f":
            floats.append(array.astype(float).ravel())
            return Tagged("floats", (array.dtype.str, array.shape))
        return array
    registered = registration(t)
    if registered is not None:
        tag, to_data = registered
        return Tagged(tag, _plain(to_data(value), floats))
    return value


def index_terms(name: str, version: int, arguments: dict[str, Any]) -> IndexTerms:
    """How the store's index finds a call of `name` with `arguments`."""
    return terms_from_plain(name, version, *plain_arguments(arguments))


def plain_arguments(arguments: dict[str, Any]) -> tuple[bytes, np.ndarray]:
    """Canonical bytes of the arguments with floats masked, and those floats."""
    floats: list[np.ndarray] = []
    try:
        plain = encode(_plain(arguments, floats))
    except EncodeError:
        _raise_unstorable(arguments)
        raise
    vector = np.concatenate(floats) if floats else np.zeros(0)
    vector = np.where(vector == 0.0, 0.0, vector)  # -0.0 and 0.0 are one value
    return plain, vector


# The shape is the canonical bytes of [name, version, plain arguments]: a
# msgpack array of three is its header byte followed by the three encodings.
_TRIPLE = b"\x93"


def shape_bytes(name: str, version: int, plain: bytes) -> bytes:
    return b"".join((_TRIPLE, encode(name), encode(version), plain))


def terms_from_plain(
    name: str, version: int, plain: bytes, vector: np.ndarray
) -> IndexTerms:
    """`index_terms` from `plain_arguments`."""
    shape = shape_bytes(name, version, plain)
    return IndexTerms(
        exact=digest(shape + vector.tobytes()), shape=digest(shape), floats=vector
    )


def _raise_unstorable(arguments: dict[str, Any]) -> None:
    for key, value in arguments.items():
        try:
            encode(_plain(value, []))
        except EncodeError as err:
            raise ArgumentError(
                f"argument {key!r} of type {type(value).__name__} cannot be "
                f"stored ({err}); pass plain data, numpy arrays, Atoms, paths "
                f"or a registered dataclass"
            ) from None
