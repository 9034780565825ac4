"""Collect Records into an ASE database and back (the paper's section 5.1).

A row per material: its structure, the key-value pairs its Results declare as
database keys, and in ``row.data["asr"]`` a bundle of every Record of that
material (whole: all revisions and the blobs they refer to), so the tree can
be rebuilt with the same uids and revision ids.
"""

from .bundle import BUNDLE_FORMAT, pack_records, row_records, row_store, unpack_bundle

__all__ = ["BUNDLE_FORMAT", "pack_records", "row_records", "row_store", "unpack_bundle"]
