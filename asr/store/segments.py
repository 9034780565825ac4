"""Index segments: the packed form of the index (`index/packed/<id>.table`).

Written by bulk imports, gc, reindex and transfers; read by `DiskStore`.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from . import tables
from .ids import Uid


def segment_entries(
    table: tables.Table,
) -> tuple[list[tuple[bytes, Uid]], list[tuple[bytes, Uid, np.ndarray]]]:
    """All exact and shape entries of an index segment."""
    columns = table.columns
    exact = [
        (table.key(row), Uid(columns["uid"][row].tobytes()))
        for row in range(len(table))
    ]
    start, length, floats = (
        columns["float_start"],
        columns["float_length"],
        columns["floats"],
    )
    shape = [
        (
            columns["shape_key"][row].tobytes(),
            Uid(columns["shape_uid"][row].tobytes()),
            floats[start[row] : start[row] + length[row]],
        )
        for row in range(len(columns["shape_key"]))
    ]
    return exact, shape


def index_segment(
    exact: list[tuple[bytes, Uid]], shape: list[tuple[bytes, Uid, np.ndarray]]
) -> tables.Table:
    """An index segment: exact keys -> uid, and shape keys -> (uid, floats).

    The shape rows are a second table in the same file, sorted by shape key,
    with every float vector in one flat array.
    """
    shape = sorted(shape, key=itemgetter(0))
    vectors = [np.asarray(v, "<f8") for _s, _u, v in shape]
    lengths = np.fromiter(map(len, vectors), np.int64, len(vectors))
    starts = np.cumsum(lengths) - lengths
    floats = np.concatenate(vectors) if vectors else np.zeros(0, "<f8")
    return tables.build(
        "index",
        [key for key, _uid in exact],
        {"uid": tables.hex16_column(uid for _key, uid in exact)},
        unsorted={
            "shape_key": tables.bytes16_column([s for s, _u, _v in shape]),
            "shape_uid": tables.hex16_column(u for _s, u, _v in shape),
            "float_start": starts,
            "float_length": lengths,
            "floats": floats,
        },
    )
