"""Round trips of the canonical codec, and equal content -> equal bytes."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from asr.store import codec
from asr.store.errors import DecodeError, EncodeError
from asr.store.ids import ObjectId, Uid, hash_bytes

SETTINGS = settings(database=None, deadline=None, max_examples=150)

DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


def dtypes():
    """Every common dtype, in native, little- and big-endian byte order."""
    return st.tuples(st.sampled_from(DTYPES), st.sampled_from("=<>")).map(
        lambda d: np.dtype(d[0]).newbyteorder(d[1])
    )


SPECIAL = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1.5]


def elements(dtype: np.dtype):
    """Any value of the dtype, often NaN, infinities and signed zeros."""
    special = st.sampled_from(SPECIAL)
    if dtype.kind == "f":
        return special | hnp.from_dtype(dtype)
    if dtype.kind == "c":
        return st.builds(complex, special, special) | hnp.from_dtype(dtype)
    return hnp.from_dtype(dtype)


def arrays():
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return dtypes().flatmap(
        lambda dtype: hnp.arrays(dtype, shapes, elements=elements(dtype))
    )


def views(array: np.ndarray):
    """The array itself, a Fortran-ordered copy, or a strided view."""
    choices = [st.just(array), st.just(np.array(array, order="F"))]
    if array.ndim:
        choices.append(st.just(array[..., ::-1]))
        choices.append(st.just(np.repeat(array, 2, axis=-1)[..., ::2]))
    if array.ndim >= 2:
        choices.append(st.just(array.T))
    return st.one_of(choices)


def canonical_bytes(array: np.ndarray) -> bytes:
    """Little-endian C-ordered bytes with one NaN: computed independently."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    if little.dtype.kind == "c":  # NaN in each part on its own
        little = little.view(f"<f{little.dtype.itemsize // 2}")
    if little.dtype.kind == "f":
        little = little.copy()
        little[np.isnan(little)] = np.nan
    return little.tobytes()


ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.none() | st.booleans() | ints | floats | st.text() | st.binary()
keys = st.text(max_size=8) | st.integers(min_value=-(2**63), max_value=2**64 - 1)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=20,
)


def same(a, b) -> bool:
    """Equal with types, NaN equal to NaN, and -0.0 different from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def nan_with_payload(bits: int) -> float:
    value = struct.unpack("<d", struct.pack("<Q", bits))[0]
    assert math.isnan(value)
    return value


# -- arrays -------------------------------------------------------------------


@SETTINGS
@given(arrays().flatmap(views))
def test_array_round_trip(array):
    data = codec.encode(array)
    back = codec.decode(data)
    if array.ndim == 0:  # 0-d arrays come back as numpy scalars
        assert isinstance(back, np.generic)
        back = np.asarray(back)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype.newbyteorder("<")
    assert back.dtype.byteorder in "=|<"
    assert back.shape == array.shape
    assert back.tobytes() == canonical_bytes(array)
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)  # NaN equals NaN here
    assert codec.encode(back) == data


@SETTINGS
@given(arrays())
def test_array_bytes_ignore_byte_order_and_memory_layout(array):
    data = codec.encode(array)
    swapped = array.astype(array.dtype.newbyteorder("S"))
    assert codec.encode(swapped) == data
    assert codec.encode(np.array(array, order="F")) == data
    if array.ndim:
        reversed_twice = array[..., ::-1].copy()[..., ::-1]
        assert codec.encode(reversed_twice) == data


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan_payloads_are_canonical_in_arrays(dtype):
    width = np.dtype(dtype).itemsize
    uint = np.dtype(f"<u{width}")
    quiet = np.array([np.nan], dtype).view(uint)[0]
    exponent_bits = {2: 0x7C00, 4: 0x7F800000, 8: 0x7FF0000000000000}[width]
    sign = uint.type(1) << uint.type(8 * width - 1)
    variants = [quiet, quiet | uint.type(1), sign | quiet, exponent_bits | 1]
    arrays = [np.array([1.5, v], uint).view(dtype) for v in variants]
    assert all(np.isnan(a[1]) for a in arrays)
    encoded = {codec.encode(a) for a in arrays}
    assert len(encoded) == 1
    big_endian = arrays[1].astype(np.dtype(dtype).newbyteorder(">"))
    assert codec.encode(big_endian) in encoded


def test_complex_nan_keeps_the_other_values():
    values = [complex(1, np.inf), complex(np.nan, -0.0), complex(-0.0, 2)]
    for dtype in ("complex64", "complex128"):
        array = np.array(values, dtype)
        back = codec.decode(codec.encode(array))
        assert back.view(f"f{array.itemsize // 2}").tobytes() == canonical_bytes(array)
        assert back[0] == complex(1, np.inf)
        assert math.copysign(1, back[1].imag) == -1
        assert math.copysign(1, back[2].real) == -1


def test_numpy_scalars():
    for value in (np.float32(1.5), np.int16(-3), np.bool_(True), np.complex64(1j)):
        back = codec.decode(codec.encode(value))
        assert type(back) is type(value) and back == value
    assert codec.encode(np.float64(1.0)) != codec.encode(1.0)  # typed, on purpose


def test_string_arrays():
    for array in (np.array(["a", "bcd", ""]), np.array([b"x", b"yz"])):
        for dtype in (array.dtype, array.dtype.newbyteorder(">")):
            back = codec.decode(codec.encode(array.astype(dtype)))
            np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    "array",
    [
        np.array([object()], dtype=object),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        np.zeros(2, dtype="V8"),
    ],
)
def test_unstorable_arrays(array):
    with pytest.raises(EncodeError):
        codec.encode(array)


# -- plain values ---------------------------------------------------------------


@SETTINGS
@given(values)
def test_value_round_trip(value):
    data = codec.encode(value)
    back = codec.decode(data)
    assert same(back, value)
    assert codec.encode(back) == data


@SETTINGS
@given(st.dictionaries(keys, values, max_size=6), st.randoms(use_true_random=False))
def test_dict_order_does_not_matter(mapping, random):
    items = list(mapping.items())
    random.shuffle(items)
    assert codec.encode(dict(items)) == codec.encode(mapping)
    assert codec.encode({"outer": dict(items)}) == codec.encode({"outer": mapping})


def test_map_keys_sorted_ints_first():
    back = codec.decode(codec.encode({"b": 1, 10: 2, "a": 3, -1: 4, 2: 5}))
    assert list(back) == [-1, 2, 10, "a", "b"]


def test_special_floats():
    for value in (-0.0, 0.0, math.inf, -math.inf, 5e-324, sys.float_info.max):
        back = codec.decode(codec.encode(value))
        assert same(back, value)
    assert codec.encode(-0.0) != codec.encode(0.0)
    nans = [
        math.nan,
        -math.nan,
        nan_with_payload(0x7FF8000000000001),
        nan_with_payload(0xFFF8000000000000),
        nan_with_payload(0x7FF0000000000001),  # signalling
    ]
    encoded = {codec.encode(n) for n in nans}
    assert len(encoded) == 1
    assert {codec.encode([n, {"x": (n,)}]) for n in nans} == {
        codec.encode([math.nan, {"x": (math.nan,)}])
    }


def test_tuples_lists_and_bytes_stay_apart():
    assert codec.decode(codec.encode((1, [2, (3,)]))) == (1, [2, (3,)])
    assert type(codec.decode(codec.encode([(1,)]))[0]) is tuple
    assert codec.encode((1, 2)) != codec.encode([1, 2])
    assert codec.encode(b"abc") != codec.encode("abc")
    assert codec.decode(codec.encode(bytearray(b"ab"))) == b"ab"
    assert codec.decode(codec.encode(memoryview(b"ab"))) == b"ab"
    assert codec.encode(True) != codec.encode(1)
    assert codec.decode(codec.encode(True)) is True


def test_ids_are_typed_references():
    oid, uid = hash_bytes(b"x"), Uid.new()
    back = codec.decode(codec.encode({"o": oid, "u": uid, "s": str(oid)}))
    assert type(back["o"]) is ObjectId and back["o"] == oid
    assert type(back["u"]) is Uid and back["u"] == uid
    assert type(back["s"]) is str
    assert codec.references(back) == [oid]


class Opaque:
    pass


class TextSubclass(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        Opaque(),
        {1, 2},
        frozenset(),
        1.5j,
        TextSubclass("x"),
        2**64,
        -(2**63) - 1,
        [1, {"nested": Opaque()}],
        {(1, 2): "tuple key"},
        {1.5: "float key"},
        {True: "bool key"},
        {None: "none key"},
        print,
        type,
    ],
)
def test_unstorable_values(value):
    with pytest.raises(EncodeError):
        codec.encode(value)
    with pytest.raises(TypeError):  # EncodeError is also a TypeError
        codec.encode(value)


# -- registered and unknown types -------------------------------------------------


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def test_registered_type_round_trip(monkeypatch):
    monkeypatch.setattr(codec, "_by_type", dict(codec._by_type))
    monkeypatch.setattr(codec, "_by_tag", dict(codec._by_tag))
    codec.register_type(
        Point, "test.point", lambda p: {"x": p.x, "y": p.y}, lambda d: Point(**d)
    )
    data = codec.encode({"p": Point(1.0, np.arange(3))})
    back = codec.decode(data)["p"]
    assert isinstance(back, Point) and back.x == 1.0
    np.testing.assert_array_equal(back.y, np.arange(3))
    # Without the registration the data still reads, as a placeholder ...
    monkeypatch.setattr(codec, "_by_tag", {})
    placeholder = codec.decode(data)["p"]
    assert isinstance(placeholder, codec.Tagged)
    assert placeholder.tag == "test.point" and placeholder.data["x"] == 1.0
    # ... which writes back the very same bytes.
    assert codec.encode({"p": placeholder}) == data


def test_unknown_tag_never_imports_code(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    module = "asr_test_module_that_must_not_be_imported"
    (tmp_path / f"{module}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Thing:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for tag in (module, f"{module}.Thing", f"{module}:Thing"):
        data = codec.encode(codec.Tagged(tag, {"args": [1, 2]}))
        back = codec.decode(data)
        assert back == codec.Tagged(tag, {"args": [1, 2]})
    assert module not in sys.modules
    assert not marker.exists()


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # never used in msgpack
        b"\x92\x01",  # truncated list
        b"\xd4\x63\x00",  # unknown extension type 99
        codec._pack(
            codec.msgpack.ExtType(
                codec.EXT_NDARRAY, codec._pack(["|O", [1], b"12345678"])
            )
        ),
        codec._pack(
            codec.msgpack.ExtType(codec.EXT_NDARRAY, codec._pack(["<f8", [3], b"1234"]))
        ),
        codec._pack(codec.msgpack.ExtType(codec.EXT_OBJECT_ID, b"short")),
    ],
)
def test_invalid_data_raises_decode_error(data):
    with pytest.raises(DecodeError):
        codec.decode(data)


@SETTINGS
@given(st.binary(max_size=64))
def test_random_bytes_never_crash_differently(data):
    try:
        codec.decode(data)
    except DecodeError:
        pass


# -- the fast path --------------------------------------------------------------
# `encode` packs with ormsgpack when it can and falls back to the reference
# encoder (`_canonical` + msgpack) when it cannot. Object ids depend on these
# bytes, so whatever the fast path packs must be the reference's bytes.


def reference_encode(value) -> bytes:
    return codec._pack(codec._canonical(value))


small_arrays = dtypes().flatmap(
    lambda dtype: hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
        elements=elements(dtype),
    )
)
numpy_scalars = small_arrays.map(lambda a: a.ravel()[0] if a.size else a.dtype.type())
odd_leaves = (
    st.builds(ObjectId, st.binary(min_size=16, max_size=16))
    | st.builds(Uid, st.binary(min_size=16, max_size=16))
    | st.builds(TextSubclass, st.text(max_size=3))
    | st.builds(codec.Tagged, st.text(max_size=5), ints | st.text(max_size=3))
    | st.binary(max_size=4).map(bytearray)
    | st.sampled_from(
        [math.nan, -math.nan, math.inf, nan_with_payload(0xFFF8000000000001)]
    )
    | st.integers(min_value=2**64, max_value=2**70)
    | st.just(Opaque())
)
fast_keys = keys | st.booleans() | st.builds(TextSubclass, st.text(max_size=3))
mixed_values = st.recursive(
    scalars | small_arrays | numpy_scalars | odd_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(fast_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(database=None, deadline=None, max_examples=400)
@given(mixed_values)
def test_fast_path_gives_the_reference_bytes(value):
    try:
        expected = reference_encode(value)
    except EncodeError:
        with pytest.raises(EncodeError):
            codec.encode(value)
        return
    assert codec.encode(value) == expected
    try:
        fast = codec._fast_encode(value)
    except Exception:
        return  # left to the reference: checked above
    assert fast == expected


def test_records_take_the_fast_path():
    """A typical record packs without the reference walk (or the fast path
    silently stopped working, and every write got three times slower)."""
    record = {
        "args": {"atoms": {"positions": np.eye(3), "numbers": [14, 14]}, "fmax": 0.01},
        "result": {"energy": -10.5, "forces": np.zeros((2, 3)), "ok": True},
        "parent": hash_bytes(b"x"),
        "uid": Uid.new(),
        "metadata": {"versions": {"ase": "3.23"}, "cores": (1, 2)},
        "spin": np.float64(0.5),
    }
    assert codec._fast_encode(record) == reference_encode(record)


def test_infinities_and_the_canonical_nan_take_the_fast_path():
    for value in ([math.inf, -math.inf, math.nan], {"kmax": math.inf}):
        assert codec._fast_encode(value) == reference_encode(value)
    odd = [nan_with_payload(0x7FF8000000000001), -math.nan]
    with pytest.raises(Exception):  # noqa: B017 - any refusal: left to the reference
        codec._fast_encode(odd)
    assert codec.encode(odd) == reference_encode([math.nan, math.nan])


def test_nan_like_bytes_inside_arrays_stay_on_the_fast_path():
    # Array bytes that look like a packed odd NaN (0xcb 0x7f 0xf1 ...): only
    # floats outside arrays may send a value to the reference encoder.
    array = np.frombuffer(b"\x00\xcb\x7f\xf1\x00\x00\x00\x00" * 2, "<f8")
    for value in ({"a": array}, {"t": (array, 1.5)}, [array, math.inf]):
        assert codec._fast_encode(value) == reference_encode(value)
    odd = nan_with_payload(0x7FF8000000000001)
    for value in ({"a": array, "x": odd}, {"t": (array, odd)}):
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            codec._fast_encode(value)
        assert codec.encode(value) == reference_encode(value)
