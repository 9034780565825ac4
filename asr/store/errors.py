"""Errors of the object store.

Each says when it happens; the command line turns them into one red line.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class NoStoreError(StoreError):
    """No `.asr/` folder in the working folder or any folder above it."""


class EncodeError(StoreError, TypeError):
    """A value has a type that cannot be stored (never pickled instead)."""


class DecodeError(StoreError):
    """Bytes are not a valid object of this format."""


class ObjectNotFoundError(StoreError, KeyError):
    """No object (or ref) with this id is in the store."""

    def __str__(self) -> str:  # KeyError would add quotes
        return str(self.args[0]) if self.args else "object not found"


class AmbiguousIdError(StoreError):
    """An abbreviated id matches more than one object."""


class CorruptObjectError(StoreError):
    """The bytes of an object do not hash to its name."""

    def __init__(self, oid: str, expected: str, actual: str, where: str = ""):
        self.oid = oid
        self.expected = expected
        self.actual = actual
        self.where = where
        loc = f" in {where}" if where else ""
        super().__init__(
            f"corrupt object {oid}{loc}: expected hash {expected}, actual {actual}"
        )


class RefConflictError(StoreError):
    """A ref moved while we were updating it (compare-and-swap failed)."""


class LockTimeoutError(StoreError):
    """A lock could not be taken in the time allowed."""


class StoreWarning(UserWarning):
    """A listing left out something damaged (a ref, a record object).

    One damaged file must not hide every other Record; `asr fsck` reports
    it as an error.
    """
