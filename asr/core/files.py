"""`File`: a file a run produced (a GPAW .gpw, a figure), kept as a blob.

An instruction returns `File("gs.gpw")`; when its Record is stored, the bytes
go into the store as a blob and the Record keeps the blob's id. A later
instruction that receives the File reads `file.path`: a read-only copy
materialised (once) in the store's file cache.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from asr.store import BaseStore, ObjectId, register_type
from asr.store.files import write_atomic
from asr.store.objects import encode_object


class File:
    """A file owned by the store once its Record is saved."""

    def __init__(self, path: str | os.PathLike, blob: ObjectId | None = None):
        self._local = Path(path)
        self.name = self._local.name
        self.blob = blob

    def __repr__(self) -> str:
        return f"File({self.name!r}, blob={self.blob})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and (self.name, self.blob) == (
            other.name,
            other.blob,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.blob))

    def summary(self) -> str:
        return f"File({self.name})"

    @property
    def path(self) -> Path:
        """A readable path to the file's content."""
        if self.blob is None:
            return self._local
        from .context import get_store

        return materialise(get_store(), self.blob, self.name)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def file_cache(store: BaseStore) -> Path:
    root = getattr(store, "root", None)
    if root is not None:
        return Path(root) / "files"
    return Path(tempfile.gettempdir()) / f"asr-files-{os.getuid()}"


SEEN_PREFIX = ".seen-"  # beside a copy: "size mtime_ns inode" when it was made


def materialise(store: BaseStore, blob: ObjectId, name: str) -> Path:
    """A copy of the blob's content at `files/<blob>/<name>`, made once.

    A copy is handed out only while its size, mtime and inode are those
    recorded when it was made; else its content is checked against the blob
    (a hash) and, if it differs, made again: a changed copy never reaches
    the next recipe.
    """
    path = file_cache(store) / blob / name
    seen = path.with_name(SEEN_PREFIX + name)
    try:
        if _stamp(path) == seen.read_text():
            return path
        if path.exists() and blob_id(path.read_bytes()) == blob:
            write_atomic(seen, _stamp(path).encode(), durable=False)
            return path
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, store.get_blob(blob), durable=False)
    write_atomic(seen, _stamp(path).encode(), durable=False)
    return path


def _stamp(path: Path) -> str:
    status = path.stat()
    return f"{status.st_size} {status.st_mtime_ns} {status.st_ino}"


def blob_id(content: bytes) -> ObjectId:
    """The id of the blob that holds `content`."""
    return encode_object("blob", {}, bytes(content))[0]


def store_files(value: Any, store: BaseStore) -> Any:
    """Put the content of every not yet stored File in `value` into `store`."""
    t = type(value)
    if t is File:
        if value.blob is None:
            value.blob = store.put_blob(value._local.read_bytes())
        return value
    if t is dict:
        return {k: store_files(v, store) for k, v in value.items()}
    if t is list or t is tuple:
        return t(store_files(v, store) for v in value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields:
        for name in fields:
            store_files(getattr(value, name), store)
    return value


def _to_data(file: File) -> dict:
    if file.blob is None:
        raise ValueError(f"{file} was not put into the store")
    return {"name": file.name, "blob": file.blob}


def _from_data(data: dict) -> File:
    return File(data["name"], ObjectId(data["blob"]))


register_type(File, "asr.File", _to_data, _from_data)
