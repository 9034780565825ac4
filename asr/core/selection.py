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

# What reading a fixed key costs (a lazily read Record decodes its name and
# version at once, a metadata entry on demand); criteria are tried cheapest
# first, so most Records are turned down before their payload is decoded.
_COST = {"uid": 0, "revision": 0, "name": 1, "version": 1, "folder": 2, "created": 2}


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
        return record.metadata_entry("directory", _MISSING)
    return record.metadata_entry("start", _MISSING)  # created


#: The fixed keys a ref holds (uid -> head): decided before a Record is read.
REF_FIELDS = ("uid", "revision")


def fits_ref(criteria: Sequence[Criterion], uid: str, oid: str) -> bool:
    """Do the uid and revision criteria hold for the ref `uid` -> `oid`?"""
    return all(
        _holds(c, str(uid) if c.key == "uid" else str(oid))
        for c in criteria
        if c.key in REF_FIELDS
    )


_SECTIONS = ("arguments", "result", "metadata")


class _Paths:
    """A Record's dotted paths, each section flattened when first asked for
    (a key found in the arguments leaves the result undecoded)."""

    def __init__(self, record: Record):
        self.record = record
        self.flat: dict[str, dict[str, Any]] = {}

    def section(self, name: str) -> dict[str, Any]:
        flat = self.flat.get(name)
        if flat is None:
            flat = self.flat[name] = flatten(getattr(self.record, name), name)
        return flat

    def value(self, key: str) -> Any:
        """The value `key` names: a fixed field, a dotted path, or a bare
        key looked for in the arguments, then the result."""
        if key in FIELDS:
            return _fixed(self.record, key)
        for path in (key, *(prefix + key for prefix in _PREFIXES)):
            section = path.partition(".")[0]
            if section in _SECTIONS:
                flat = self.section(section)
                if path in flat:
                    return flat[path]
        return _MISSING


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


def _bare_keys(record: Record) -> list[str]:
    """The argument and result keys of `record`, without their prefix."""
    return [
        key[len(prefix) :]
        for key in record_fields(record)
        for prefix in _PREFIXES
        if key.startswith(prefix)
    ]


def _listed(seen: Iterable[str]) -> list[str]:
    """The keys a selection may use, fixed names first, then the argument and
    result keys `seen` (bare, as they are typed most often)."""
    return [*FIELDS, *sorted(k for k in seen if k not in FIELDS)]


# -- matching -----------------------------------------------------------------


def _cheapest_first(criteria: Sequence[Criterion]) -> list[Criterion]:
    return sorted(criteria, key=lambda c: _COST.get(c.key, 3))


def matches(record: Record, criteria: Sequence[Criterion]) -> bool:
    """Does `record` fit every criterion? A missing field fits none."""
    paths = _Paths(record)
    return all(_holds(c, paths.value(c.key)) for c in _cheapest_first(criteria))


def select(records: Iterable[Record], criteria: Sequence[Criterion]) -> list[Record]:
    """The Records that fit, read as a stream (only those that fit are kept).

    The fixed keys (name, version, uid, revision, folder, created) are
    tried first; only a Record that fits them has its arguments or result
    decoded for the other keys. A key that no such Record has is refused,
    naming the keys they have (a typo matches nothing), once the stream is
    over and nothing fit. If no Record fits the fixed keys, there is nothing
    to check the others against, and none is refused.
    """
    ordered = _cheapest_first(criteria)
    fixed = [c for c in ordered if c.key in FIELDS]
    other = [c for c in ordered if c.key not in FIELDS]
    pending = {c.key for c in other}  # keys no Record seen so far has
    seen: dict[str, None] = {}  # the keys of the Records seen, for the error
    candidates = 0
    found = []
    for record in records:
        if not all(_holds(c, _fixed(record, c.key)) for c in fixed):
            continue
        candidates += 1
        paths = _Paths(record)
        if pending:
            pending = {key for key in pending if paths.value(key) is _MISSING}
            if pending:
                seen.update(dict.fromkeys(_bare_keys(record)))
        if all(_holds(c, paths.value(c.key)) for c in other):
            found.append(record)
    if pending and not found and (candidates or not fixed):
        unknown = next(c for c in criteria if c.key in pending)
        among = " ".join(map(str, fixed))
        raise SelectionError(
            f"unknown key {unknown.key!r} in {str(unknown)!r}"
            + (f" (no Record with {among} has it)" if fixed else "")
            + "; known keys: "
            + ", ".join(_listed(seen))
            + " (and arguments.*, result.*, metadata.* paths)"
        )
    return found


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
