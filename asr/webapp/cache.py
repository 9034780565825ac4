"""Caches: built material pages and rendered pages in memory (LRU), figures
on disk. (The search table, a cache of the database's rows, has its own
module: `searchtable.py`.)

Figures are drawn once per Record revision into the row's cache folder
(``<cache>/row-<id>-<hash>/<record oid>/``): drawn into a temporary folder,
listed in ``figures.json`` and renamed into place, so a reader never sees
half a set and a page view never draws again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

#: A figure file name the app serves: no folders, no hidden files.
FIGURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,150}\.(png|svg|jpg|jpeg|gif)$")
OBJECT_ID = re.compile(r"^[0-9a-f]{32}$")
MANIFEST = "figures.json"

K = TypeVar("K")
V = TypeVar("V")

# pyplot is not thread-safe, and figures of one Record are drawn only once.
_draw_lock = threading.Lock()


class LRUCache(Generic[K, V]):
    """A small thread-safe least-recently-used cache."""

    def __init__(self, maxsize: int = 128):
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def user_cache_dir(db_path: str | os.PathLike, base: Path) -> Path:
    """The figure cache of a database under `base` (e.g. ``~/.cache/asr``)."""
    path = os.path.abspath(db_path)
    tag = hashlib.sha256(path.encode()).hexdigest()[:16]
    return Path(base) / "webapp" / f"{Path(path).stem}-{tag}"


def default_cache_dir(db_path: str | os.PathLike) -> Path:
    """A cache in the temporary folder, when the caller names none."""
    return user_cache_dir(db_path, Path(tempfile.gettempdir()) / f"asr-{os.getuid()}")


def row_folder(cache_dir: Path, row_id: int, unique_id: str | None) -> Path:
    """The cache folder of one row (named by id and a hash of its unique id)."""
    tag = hashlib.sha256(str(unique_id or "").encode()).hexdigest()[:12]
    return cache_dir / f"row-{int(row_id)}-{tag}"


def valid_figure(name: str) -> bool:
    return bool(FIGURE_NAME.match(name)) and ".." not in name


def cached_figures(
    folder: Path, oid: str, draw: Callable[[Path], list[Any]]
) -> list[str]:
    """Names of the figures of Record `oid`, drawn by `draw(folder)` once."""
    if not OBJECT_ID.match(str(oid)):
        return []
    target = folder / str(oid)
    names = _read_manifest(target)
    if names is not None:
        return names
    with _draw_lock:
        names = _read_manifest(target)  # drawn while we waited
        if names is not None:
            return names
        _off_screen()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{oid}.", dir=folder))
        try:
            names = _collect(tmp, draw(tmp) or [])
            (tmp / MANIFEST).write_text(json.dumps(names))
            try:
                os.rename(tmp, target)
            except OSError:  # another process was first: theirs is as good
                names = _read_manifest(target) or names
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return names


def _off_screen() -> None:
    """Draw with Agg (no window, any thread) unless pyplot is already set up."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")


def drawn_figures(folder: Path, oid: str) -> list[str] | None:
    """Names of the figures of Record `oid` if they were drawn, else None."""
    if not OBJECT_ID.match(str(oid)):
        return None
    return _read_manifest(folder / str(oid))


def _collect(folder: Path, paths: list[Any]) -> list[str]:
    """Figure names in `folder`; a figure drawn elsewhere is copied in."""
    names = []
    for path in paths:
        path = Path(path)
        if not valid_figure(path.name) or not path.is_file():
            continue
        if path.resolve().parent != folder.resolve():
            shutil.copyfile(path, folder / path.name)
        if path.name not in names:
            names.append(path.name)
    return names


def _read_manifest(target: Path) -> list[str] | None:
    try:
        names = json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return [n for n in names if isinstance(n, str) and valid_figure(n)]
