"""What a Record says about the run that made it."""

from __future__ import annotations

import functools
import os
import platform
import socket
import time

CORE_PACKAGES = ("asr", "ase", "gpaw", "numpy", "spglib", "msgpack")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of the packages a result may depend on (installed ones)."""
    from importlib import metadata as importlib_metadata  # slow: only when run

    versions = {"python": platform.python_version()}
    for name in (*CORE_PACKAGES, *extra):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


_cache: dict[tuple[str, ...], dict[str, str]] = {}


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    if extra not in _cache:
        _cache[extra] = package_versions(extra)
    return dict(_cache[extra])


# Resolving links costs a system call per path component, on every call;
# folders do not move under a running process.
_realpath = functools.lru_cache(maxsize=256)(os.path.realpath)


def directory_in(store_root: str | os.PathLike | None) -> str:
    """The working folder, relative to the store's folder when inside it.

    Records note where they were made: `asr database fromtree` groups the
    Records of a tree of material folders by it.
    """
    cwd = _realpath(os.getcwd())
    if store_root is not None:
        top = os.path.dirname(_realpath(os.fspath(store_root)))
        if cwd == top or cwd.startswith(top + os.sep):
            return os.path.relpath(cwd, top)
    return cwd


def run_metadata(
    start: float, end: float, packages: tuple[str, ...], directory: str
) -> dict:
    from .mpi import size  # GPAW's MPI world when run under MPI

    return {
        "start": start,
        "end": end,
        "wall_time": end - start,
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "mpi_ranks": size(),
        "versions": versions(packages),
        "pid": os.getpid(),
        "directory": directory,
    }


def now() -> float:
    return time.time()
