"""Collect Records into an ASE database and back (the paper's section 5.1).

A row per material: its structure, the key-value pairs its Results declare as
database keys, and in ``row.data["asr"]`` a bundle of every Record of that
material (whole: all revisions and the blobs they refer to), so the tree can
be rebuilt with the same uids and revision ids. See `rows.py` for the row
format; `fromtree`, `totree`, `merge` and `split` move rows around.
"""

from .bundle import (
    BUNDLE_FORMAT,
    Bundle,
    bundle_refs,
    pack_records,
    read_bundle,
    row_bundle,
    row_records,
    row_store,
    unpack_bundle,
)
from .fromtree import FromTreeReport, Problem, fromtree
from .merge import MergeReport, merge, split
from .rows import FOLDER_KEY, LINKS_KEY, DatabaseError, connect
from .totree import ToTreeReport, totree

__all__ = [
    "BUNDLE_FORMAT",
    "FOLDER_KEY",
    "LINKS_KEY",
    "Bundle",
    "DatabaseError",
    "FromTreeReport",
    "MergeReport",
    "Problem",
    "ToTreeReport",
    "bundle_refs",
    "connect",
    "fromtree",
    "merge",
    "pack_records",
    "read_bundle",
    "row_bundle",
    "row_records",
    "row_store",
    "split",
    "totree",
    "unpack_bundle",
]
