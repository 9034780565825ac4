"""Selections a person types: ``name=asr.gs folder=tree/* 'created>2026-01-01'``.

One parser and one matcher, used by every command that takes a selection
(`asr cache ls/rm`, `asr results`, `asr show`) and by `asr.core.cache.select`.
The keys are the names the tables show (`name`, `version`, `uid`, `folder`,
`created`, `revision`) plus dotted paths into a Record's arguments, result and
metadata; a bare key (`ecut`) is looked for in the arguments, then the result.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .diff import flatten
from .record import Record

#: Keys every Record has, as the tables name them, and what each one reads.
FIELDS: dict[str, str] = {
    "name": "the instruction's name",
    "version": "the instruction's version",
    "uid": "the record's uid (a prefix is enough)",
    "revision": "the id of its newest revision (a prefix is enough)",
    "folder": "the folder it was made in, relative to the store's folder",
    "created": "when it was made: 2026-01-01 or 2026-01-01T12:00",
}
OPERATORS = ("<=", ">=", "!=", "=", "<", ">")
_WORD = re.compile(r"^([A-Za-z_][\w.\-]*)(<=|>=|!=|=|<|>)(.*)$", re.DOTALL)
_MISSING = object()
_PREFIXES = ("arguments.", "result.")


class SelectionError(ValueError):
    """A selection that cannot be understood: a user error, one line."""


@dataclass(frozen=True)
class Criterion:
    """One typed condition: ``key op value``, e.g. ``ecut >= 500``."""

    key: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_criterion(word: str) -> Criterion:
    """``"ecut>=500"`` -> ``Criterion("ecut", ">=", "500")``."""
    found = _WORD.match(word)
    if found is None:
        ops = " ".join(OPERATORS)
        raise SelectionError(
            f"a selection is key=value (or key with one of {ops}), "
            f"e.g. name=asr.gs, not {word!r}"
        )
    return Criterion(*found.groups())


def parse_selection(words: Iterable[str]) -> list[Criterion]:
    """The criteria of command-line words; all of them must hold."""
    return [parse_criterion(word) for word in words]


def criteria_of(values: Mapping[str, Any]) -> list[Criterion]:
    """Keyword criteria from Python (``name="asr.gs", ecut=500``): equalities."""
    return [Criterion(key, "=", str(value)) for key, value in values.items()]


def looks_like_selection(word: str) -> bool:
    """Is `word` a criterion (has an operator) rather than an id?"""
    return _WORD.match(word) is not None


# -- the fields of a Record ---------------------------------------------------


def _fixed(record: Record, key: str) -> Any:
    if key == "name":
        return record.name
    if key == "version":
        return record.version
    if key == "uid":
        return str(record.uid)
    if key == "revision":
        return str(record.oid or "")
    if key == "folder":
        return record.metadata.get("directory", _MISSING)
    return record.metadata.get("start", _MISSING)  # created


def _paths(record: Record) -> dict[str, Any]:
    return flatten(
        {
            "arguments": record.arguments,
            "result": record.result,
            "metadata": record.metadata,
        }
    )


def record_fields(record: Record) -> dict[str, Any]:
    """Everything a criterion can read, by key: fixed names and dotted paths."""
    fields = _paths(record)
    for key in FIELDS:
        value = _fixed(record, key)
        if value is not _MISSING:
            fields[key] = value
    return fields


def _value(record: Record, key: str, paths: dict[str, Any]) -> Any:
    """The value `key` names; `paths` is filled (decoding the record) only if needed."""
    if key in FIELDS:
        return _fixed(record, key)
    if not paths:
        paths.update(_paths(record))
    for prefix in ("", *_PREFIXES):
        if prefix + key in paths:
            return paths[prefix + key]
    return _MISSING


def known_keys(records: Iterable[Record]) -> list[str]:
    """The keys a selection over `records` may use, fixed names first.

    Argument and result keys are listed bare (as they are typed most often);
    their dotted forms and `metadata.` paths are accepted too.
    """
    seen: dict[str, None] = {}
    for record in records:
        for key in record_fields(record):
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    seen.setdefault(key[len(prefix) :])
    return [*FIELDS, *sorted(k for k in seen if k not in FIELDS)]


def check_keys(criteria: Sequence[Criterion], records: Sequence[Record]) -> None:
    """Refuse a key no Record has, naming the known ones (a typo matches nothing)."""
    pending = {c.key for c in criteria if c.key not in FIELDS}
    for record in records:
        if not pending:
            return
        for key in record_fields(record):
            pending.discard(key)
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    pending.discard(key[len(prefix) :])
    for criterion in criteria:
        if criterion.key in pending:
            raise SelectionError(
                f"unknown key {criterion.key!r} in {str(criterion)!r}; known keys: "
                + ", ".join(known_keys(records))
                + " (and arguments.*, result.*, metadata.* paths)"
            )


# -- matching -----------------------------------------------------------------


def matches(record: Record, criteria: Sequence[Criterion]) -> bool:
    """Does `record` fit every criterion? A missing field fits none."""
    paths: dict[str, Any] = {}
    return all(_holds(c, _value(record, c.key, paths)) for c in criteria)


def select(records: Iterable[Record], criteria: Sequence[Criterion]) -> list[Record]:
    """The Records that fit, after checking every key is known."""
    records = list(records)
    check_keys(criteria, records)
    return [r for r in records if matches(r, criteria)]


def _holds(criterion: Criterion, value: Any) -> bool:
    if value is _MISSING:
        return False
    key, op, wanted = criterion.key, criterion.op, criterion.value
    if op in ("=", "!="):
        return _equal(key, value, wanted) == (op == "=")
    ordered = _ordered(key, value, wanted)
    if ordered is None:
        return False
    have, want = ordered
    if op == "<":
        return have < want
    if op == ">":
        return have > want
    if op == "<=":
        return have <= want
    return have >= want


def _equal(key: str, value: Any, wanted: str) -> bool:
    if key in ("uid", "revision"):
        return bool(wanted) and str(value).startswith(wanted)
    text = _text(key, value)
    if "*" in wanted or "?" in wanted:
        return _wildcard(wanted).fullmatch(text) is not None
    if key == "created":  # a date is the whole day, a date and hour the hour
        return bool(wanted) and text.startswith(wanted.strip().replace("T", " "))
    numbers = _numbers(value, wanted)
    if numbers is not None:
        return numbers[0] == numbers[1]
    return text == wanted


def _ordered(key: str, value: Any, wanted: str) -> tuple[Any, Any] | None:
    """Both sides as comparable things: times, numbers, else text."""
    if key == "created":
        moment = _moment(wanted)
        if moment is None:
            raise SelectionError(
                f"{key} compares with a date or time (2026-01-01 or "
                f"2026-01-01T12:00), not {wanted!r}"
            )
        return datetime.datetime.fromtimestamp(value), moment
    numbers = _numbers(value, wanted)
    if numbers is not None:
        return numbers
    if _number(wanted) is not None:
        return None  # a number asked for, the value is no number
    return _text(key, value), wanted


def _text(key: str, value: Any) -> str:
    if key == "created" and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value).isoformat(" ", "seconds")
    return str(value)


def _numbers(value: Any, wanted: str) -> tuple[float, float] | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        value = _number(str(value))
    want = _number(wanted)
    if value is None or want is None:
        return None
    return float(value), want


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _moment(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in re.split(r"([*?])", pattern))
    return re.compile("".join({r"\*": ".*", r"\?": "."}.get(p, p) for p in parts))
