"""Canonical msgpack: equal content gives equal bytes on every machine.

Rules that make the bytes canonical:

* map keys are sorted (ints before strings) and must be `str` or `int`;
* every float is a float64, and every NaN is the one quiet NaN;
* numpy arrays are an extension type holding (dtype, shape, little-endian
  C-ordered bytes); numpy scalars are 0-d arrays (and come back as scalars);
* tuples have their own extension type, so they come back as tuples;
* object ids are a typed reference, so `gc` and `fsck` can follow them;
* higher layers register their own types (Atoms, Results, ...) under a tag
  with explicit to/from-data functions. Decoding an unknown tag gives a
  `Tagged` placeholder: reading a store never imports or runs code of its
  own choosing. A higher layer may add a *tag resolver* that imports the
  code registering a tag, from a list it trusts (`asr.core.plugins` does,
  for the registered recipe modules); each unknown tag is asked once.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import ormsgpack

from .errors import DecodeError, EncodeError
from .ids import ObjectId, Uid

EXT_NDARRAY = 1
EXT_TUPLE = 2
EXT_TAGGED = 3
EXT_OBJECT_ID = 4
EXT_UID = 5

_NAN = float("nan")
_ALLOWED_DTYPE_KINDS = "biufcSU"
# Types stored as they are (exact types: subclasses such as ObjectId differ).
_PLAIN = frozenset({str, int, bool, bytes, type(None)})
_STR = frozenset({str})
_STR_INT = frozenset({str, int})
_NUMBERS = frozenset({float, int, bool})
# A little-endian float64 that may be an infinity or a NaN (or a false alarm:
# the search ignores alignment).
_F8_NAN_LIKE = re.compile(rb"[\xf0-\xff][\x7f\xff]")


# Keyed by the dtype object (hashed faster than its `.str`) and the shape.
_array_prefixes: dict[tuple[np.dtype, tuple[int, ...]], bytes] = {}


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    return tuple.__new__(msgpack.ExtType, (code, data))  # skips re-validation


@dataclass(frozen=True)
class Tagged:
    """A registered type whose class is not known to this process."""

    tag: str
    data: Any


@dataclass(frozen=True)
class _Codec:
    cls: type
    tag: str
    to_data: Callable[[Any], Any]
    from_data: Callable[[Any], Any]


_by_type: dict[type, _Codec] = {}
_by_tag: dict[str, _Codec] = {}
_resolvers: list[Callable[[str], None]] = []
_asked: set[str] = set()  # unknown tags the resolvers were asked about


def add_tag_resolver(resolver: Callable[[str], None]) -> None:
    """Ask `resolver(tag)` about a tag no type is registered for; it may
    import the module that registers it (and should import nothing else)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)
        _asked.clear()


def _resolve(tag: str) -> _Codec | None:
    if tag not in _asked:
        _asked.add(tag)
        for resolver in _resolvers:
            resolver(tag)
    return _by_tag.get(tag)


def register_type(
    cls: type,
    tag: str,
    to_data: Callable[[Any], Any],
    from_data: Callable[[Any], Any],
) -> None:
    """Teach the codec a type: `to_data(obj)` must return storable data."""
    codec = _Codec(cls, tag, to_data, from_data)
    _by_type[cls] = codec
    _by_tag[tag] = codec


def sorted_keys(obj: dict) -> list:
    """Map keys in canonical order: ints (by value), then strings."""
    key_types = set(map(type, obj))
    if key_types <= _STR:
        return sorted(obj)
    if key_types <= _STR_INT:
        return sorted(obj, key=_int_then_str)
    bad = next(k for k in obj if type(k) not in _STR_INT)
    raise EncodeError(
        f"map keys must be str or int, not {type(bad).__name__} ({bad!r})"
    )


def _int_then_str(key: int | str) -> tuple[int, int | str]:
    return (1, key) if type(key) is str else (0, key)


def _encode_array(array: np.ndarray) -> msgpack.ExtType:
    dtype = array.dtype
    prefix = _array_prefixes.get((dtype, array.shape))
    if prefix is None:
        return _encode_new_array(array)
    # A dtype seen before: valid and little-endian. `prefix` is the packed
    # [dtype, shape] and the header of the data, whose length they fix.
    data = array.tobytes()  # C order, whatever the layout
    if dtype.kind in "fc" and array.size:
        # Cached dtypes are little-endian: "d" and "D" are "<f8" and "<c16".
        if dtype.char not in "dD" or _F8_NAN_LIKE.search(data):
            if np.isnan(array).any():
                data = _canonical_nans(array).tobytes()
    return _ext(EXT_NDARRAY, prefix + data)


def _encode_new_array(array: np.ndarray) -> msgpack.ExtType:
    dtype = array.dtype
    if dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.fields is not None:
        raise EncodeError(f"cannot store numpy arrays of dtype {dtype}")
    if dtype.byteorder == ">":
        dtype = dtype.newbyteorder("<")
        array = array.astype(dtype)
    data = array.tobytes()  # C order, whatever the layout
    if dtype.kind in "fc" and array.size:
        if dtype.str not in ("<f8", "<c16") or _F8_NAN_LIKE.search(data):
            if np.isnan(array).any():
                data = _canonical_nans(array).tobytes()
    payload = msgpack.packb([dtype.str, list(array.shape), data], use_bin_type=True)
    if array.dtype.byteorder != ">" and len(_array_prefixes) < 4096:
        key = (array.dtype, array.shape)
        _array_prefixes[key] = payload[: len(payload) - len(data)]
    return _ext(EXT_NDARRAY, payload)


def _canonical_nans(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "c":
        # Set the parts in place: `real + 1j * imag` would turn an infinite
        # imaginary part into a NaN real part and lose the sign of zeros.
        out = array.copy()
        out.real[np.isnan(array.real)] = np.nan
        out.imag[np.isnan(array.imag)] = np.nan
        return out
    return np.where(np.isnan(array), np.nan, array).astype(array.dtype)


def _all_finite(numbers: list) -> bool:
    """No NaN (nor infinity) among these numbers? Summed in C, so fast."""
    try:
        return math.isfinite(sum(numbers))
    except OverflowError:  # a huge int: let the careful path decide
        return False


def _canonical(obj: Any) -> Any:
    # Hot path of every write: plain values are returned without a call.
    t = type(obj)
    if t in _PLAIN:
        return obj
    if t is float:
        return _NAN if obj != obj else obj
    if t is dict:
        try:  # string keys, the usual case; distinct, so values are not compared
            items = sorted(obj.items())
        except Exception:  # keys that do not compare: see sorted_keys
            items = ()
        out = {}
        for k, v in items:
            if type(k) is not str:
                break
            tv = type(v)  # plain values and finite floats inline: no call
            out[k] = v if tv in _PLAIN or (tv is float and v == v) else _canonical(v)
        else:
            if len(out) == len(obj):
                return out
        return {
            k: v if type(v) in _PLAIN else _canonical(v)
            for k in sorted_keys(obj)  # int keys (or an EncodeError)
            for v in (obj[k],)
        }
    if t is list:
        types = set(map(type, obj))
        if types <= _PLAIN or (types <= _NUMBERS and _all_finite(obj)):
            return obj  # already canonical: packed as it is
        return [v if type(v) in _PLAIN else _canonical(v) for v in obj]
    if t is tuple:
        return _ext(EXT_TUPLE, _pack([_canonical(v) for v in obj]))
    if t is ObjectId:
        return _ext(EXT_OBJECT_ID, obj.raw)
    if t is Uid:
        return _ext(EXT_UID, obj.raw)
    if t is np.ndarray:
        return _encode_array(obj)
    if isinstance(obj, np.generic):
        return _encode_array(np.asarray(obj))
    codec = _by_type.get(t)
    if codec is not None:
        data = _canonical(codec.to_data(obj))
        return _ext(EXT_TAGGED, _pack([codec.tag, data]))
    if t is Tagged:
        return _ext(EXT_TAGGED, _pack([obj.tag, _canonical(obj.data)]))
    if t is bytearray or t is memoryview:
        return bytes(obj)
    raise EncodeError(f"cannot store a value of type {t.__module__}.{t.__qualname__}")


# One packer for every call: `msgpack.packb` makes a new one each time, which
# costs more than packing a small object. `pack` runs in C without calling
# back into Python, so no other thread can use it meanwhile.
_packer = msgpack.Packer(use_bin_type=True)


def _pack(obj: Any) -> bytes:
    try:
        return _packer.pack(obj)
    except OverflowError as err:
        raise EncodeError(f"integer too large to store: {err}") from None


def encode(obj: Any) -> bytes:
    """Canonical bytes of `obj` (raises EncodeError for unstorable types)."""
    try:
        return _fast_encode(obj)
    except Exception:  # not canonical that way, or not storable: the reference
        return _pack(_canonical(obj))


# The fast path: ormsgpack packs and sorts string keys in Rust, about three
# times faster than walking the value in Python. Its bytes are the reference
# encoder's for everything it is let to pack (the tests hold it to that);
# everything else it passes to `_fast_default` or gives up on, and `encode`
# falls back to the reference: int map keys, NaNs other than the canonical
# one (whose bits the reference sets), unregistered types (whose error the
# reference words).
_FAST_OPTIONS = (
    ormsgpack.OPT_SORT_KEYS
    | ormsgpack.OPT_PASSTHROUGH_SUBCLASS
    | ormsgpack.OPT_PASSTHROUGH_TUPLE
    | ormsgpack.OPT_PASSTHROUGH_BIG_INT
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_UUID
)
# A float64 (0xcb, then big-endian bits) that may be a NaN other than the
# canonical one: exponent all ones, and not an infinity or `_NAN` itself.
# A false alarm (in binary data) only costs the reference path.
_PACKED_ODD_NAN = re.compile(
    rb"\xcb(?=[\x7f\xff][\xf0-\xff])(?!"
    + b"|".join(re.escape(struct.pack(">d", x)) for x in (_NAN, math.inf, -math.inf))
    + rb")"
)


_HOLLOW_TYPES = frozenset({np.ndarray, Uid, ObjectId, tuple, Tagged})


class _NotFast(Exception):
    """This value is for the reference encoder."""


def _fast_encode(obj: Any) -> bytes:
    data = ormsgpack.packb(obj, default=_fast_default, option=_FAST_OPTIONS)
    if _PACKED_ODD_NAN.search(data) and _PACKED_ODD_NAN.search(
        # Where was it? Packed again with every extension left empty: what
        # remains are the floats outside arrays (and outside tuples and
        # registered types, which `_fast_encode` checked on their own).
        ormsgpack.packb(obj, default=_hollow_default, option=_FAST_OPTIONS)
    ):
        raise _NotFast
    return data


def _fast_default(obj: Any) -> ormsgpack.Ext:
    t = type(obj)
    if t is np.ndarray:
        return ormsgpack.Ext(EXT_NDARRAY, _encode_array(obj).data)
    if t is Uid:
        return ormsgpack.Ext(EXT_UID, obj.raw)
    if t is ObjectId:
        return ormsgpack.Ext(EXT_OBJECT_ID, obj.raw)
    if t is tuple:
        return ormsgpack.Ext(EXT_TUPLE, _fast_encode(list(obj)))
    codec = _by_type.get(t)
    if codec is not None:
        return ormsgpack.Ext(EXT_TAGGED, _fast_encode([codec.tag, codec.to_data(obj)]))
    if t is Tagged:
        return ormsgpack.Ext(EXT_TAGGED, _fast_encode([obj.tag, obj.data]))
    if isinstance(obj, np.generic):
        return ormsgpack.Ext(EXT_NDARRAY, _encode_array(np.asarray(obj)).data)
    raise _NotFast


_HOLLOW = ormsgpack.Ext(0, b"")


def _hollow_default(obj: Any) -> ormsgpack.Ext:
    """What `_fast_default` turns into an extension, as an empty one."""
    t = type(obj)
    if t in _HOLLOW_TYPES or t in _by_type or isinstance(obj, np.generic):
        return _HOLLOW
    raise _NotFast


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_NDARRAY:
        dtype, shape, raw = _unpack(data)
        if np.dtype(dtype).kind not in _ALLOWED_DTYPE_KINDS:
            raise DecodeError(f"refusing array of dtype {dtype}")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return array[()] if array.ndim == 0 else array
    if code == EXT_TUPLE:
        return tuple(_unpack(data))
    if code == EXT_OBJECT_ID:
        return ObjectId(data)
    if code == EXT_UID:
        return Uid(data)
    if code == EXT_TAGGED:
        tag, value = _unpack(data)
        codec = _by_tag.get(tag) or _resolve(tag)
        if codec is None:
            return Tagged(tag, value)
        return codec.from_data(value)
    raise DecodeError(f"unknown extension type {code}")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(
        data, ext_hook=_ext_hook, raw=False, strict_map_key=False, use_list=True
    )


def decode(data: bytes | memoryview) -> Any:
    """Inverse of `encode`."""
    try:
        return _unpack(data)
    except (DecodeError, ValueError, TypeError, msgpack.UnpackException) as err:
        if isinstance(err, DecodeError):
            raise
        raise DecodeError(f"invalid object data: {err}") from None


def references(obj: Any) -> list[ObjectId]:
    """Every ObjectId inside decoded data (what an object points at)."""
    found: list[ObjectId] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        t = type(item)
        if t is ObjectId:
            found.append(item)
        elif t is dict:
            stack.extend(item.values())
        elif t is list or t is tuple:
            stack.extend(item)
        elif t is Tagged:
            stack.append(item.data)
        elif t in _by_type:
            stack.append(_by_type[t].to_data(item))
    return found


def registration(cls: type) -> tuple[str, Callable[[Any], Any]] | None:
    """(tag, to_data) of a registered type, or None."""
    codec = _by_type.get(cls)
    return None if codec is None else (codec.tag, codec.to_data)
