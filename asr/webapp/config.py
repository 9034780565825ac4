"""What a project tells the app: title, key descriptions, columns, filters.

Everything comes from the database's metadata (``db.metadata``), and an app
configuration (a dict, e.g. read from a JSON file) may override any entry::

    {
      "title": "C2DB",
      "key_descriptions": {"gap": ["Band gap", "Band gap (PBE)", "eV"]},
      "key_priority": {"gap": 5},
      "key_digits": {"gap": 2},
      "default_columns": ["formula", "gap", "ehull"],
      "filters": [{"key": "gap", "type": "range"}, {"key": "magstate"}],
      "summary": ["gap", "ehull", "magstate"],
      "thumbnails": ["asr.bandstructure", "asr.convex_hull"],
      "panel_priority": ["asr.structureinfo", "asr.gs", "asr.bandstructure"],
      "link_databases": {"c2db": "https://c2db.fysik.dtu.dk/material/{uid}"}
    }

Key descriptions are accepted as ASE writes them (``[short, long, unit]``),
as a plain description, or as ``{"label", "description", "unit",
"priority", "digits"}``. ``key_priority`` ranks keys (lowest first): the
recipes' ranks, written by ``asr database fromtree``. Ranked keys are the
filters and the Summary unless ``filters`` and ``summary`` say otherwise.
A filter's type is ``range`` (numbers: min and max) or ``select`` (one of
the values); without a type the app picks one from the key's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .db import KeyStats

#: Instructions whose panels and keys come first, then the rest by title.
DEFAULT_PRIORITY = (
    "asr.structureinfo",
    "asr.relax",
    "asr.convex_hull",
    "asr.dimensionality",
    "asr.magstate",
    "asr.gs",
    "asr.bandstructure",
    "asr.pdos",
    "asr.phonons",
)
DEFAULT_COLUMNS = ("id", "formula", "natoms")
#: Instructions whose first figure the Summary shows small.
DEFAULT_THUMBNAILS = ("asr.bandstructure", "asr.convex_hull")
PAGE_SIZES = (10, 25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 25
AUTO_FILTERS = 6
#: Default columns made from ranked keys: the formula and the first seven.
MAX_RANKED_COLUMNS = 8

#: Columns every row has (not key-value pairs), with descriptions.
SPECIAL_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("ID", "Row number in the database"),
    "formula": ("Formula", "Chemical formula"),
    "natoms": ("Atoms", "Number of atoms"),
    "unique_id": ("Unique ID", "Identifier of the row, the same in every copy"),
    "pbc": ("PBC", "Periodic boundary conditions along a, b, c"),
    "volume": ("Volume", "Volume of the unit cell (Å³)"),
    "energy": ("Energy", "Total energy (eV)"),
    "fmax": ("Max force", "Largest force on an atom (eV/Å)"),
    "smax": ("Max stress", "Largest stress component (eV/Å³)"),
    "magmom": ("Magmom", "Total magnetic moment (μB)"),
    "charge": ("Charge", "Total charge (|e|)"),
    "mass": ("Mass", "Total mass (u)"),
    "calculator": ("Calculator", "Name of the calculator"),
    "user": ("User", "Who wrote the row"),
    "age": ("Age", "Time since the row was written"),
}
#: Special columns the database can sort by (in SQL).
SORTABLE_SPECIAL = frozenset(SPECIAL_COLUMNS) - {"formula", "unique_id"}


@dataclass(frozen=True)
class KeyDescription:
    key: str
    label: str
    description: str
    unit: str = ""
    priority: int | None = None  # rank among the keys, lowest first
    digits: int | None = None  # decimals of its numbers


@dataclass(frozen=True)
class Filter:
    key: str
    kind: str  # "range" or "select"
    label: str
    options: tuple[str, ...] = ()


class ConfigError(ValueError):
    """The app configuration or the database metadata cannot be understood."""


def key_description(key: str, value: Any) -> KeyDescription:
    """A key description from any of the accepted forms."""
    if isinstance(value, str):
        return KeyDescription(key, key, value)
    if isinstance(value, Mapping):
        description = str(value.get("description", value.get("label", key)))
        return KeyDescription(
            key,
            str(value.get("label", description)),
            description,
            str(value.get("unit", "")),
            _optional_int(value.get("priority")),
            _optional_int(value.get("digits")),
        )
    if isinstance(value, (list, tuple)) and value:
        parts = [str(v) for v in value] + ["", "", ""]
        short, long, unit = parts[0], parts[1] or parts[0], parts[2]
        return KeyDescription(key, short or key, long or short, unit)
    return KeyDescription(key, key, key)


@dataclass
class AppConfig:
    title: str = "ASR database"
    key_descriptions: dict[str, KeyDescription] = field(default_factory=dict)
    default_columns: list[str] = field(default_factory=lambda: list(DEFAULT_COLUMNS))
    filters: list[dict[str, Any]] | None = None  # None: chosen from the keys
    summary: list[str] | None = None  # None: the ranked keys
    thumbnails: list[str] = field(default_factory=lambda: list(DEFAULT_THUMBNAILS))
    panel_priority: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITY))
    page_size: int = DEFAULT_PAGE_SIZE
    link_databases: dict[str, str] = field(default_factory=dict)  # name -> URL

    @classmethod
    def from_metadata(
        cls, metadata: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
    ) -> AppConfig:
        merged = {**metadata, **(overrides or {})}
        config = cls()
        try:
            if merged.get("title"):
                config.title = str(merged["title"])
            descriptions = merged.get("key_descriptions") or {}
            config.key_descriptions = {
                str(k): key_description(str(k), v) for k, v in descriptions.items()
            }
            _add_ranks(config.key_descriptions, merged)
            if merged.get("default_columns"):
                config.default_columns = [str(c) for c in merged["default_columns"]]
            elif config.ranked():
                ranked = ["formula", *config.ranked()]
                config.default_columns = ranked[:MAX_RANKED_COLUMNS]
            if merged.get("filters") is not None:
                config.filters = [_filter_spec(f) for f in merged["filters"]]
            if merged.get("summary") is not None:
                config.summary = [str(k) for k in merged["summary"]]
            if merged.get("thumbnails") is not None:
                config.thumbnails = [str(n) for n in merged["thumbnails"]]
            if merged.get("panel_priority"):
                config.panel_priority = [str(n) for n in merged["panel_priority"]]
            if merged.get("page_size"):
                config.page_size = int(merged["page_size"])
            if merged.get("link_databases"):
                config.link_databases = {
                    str(k): str(v) for k, v in merged["link_databases"].items()
                }
        except (AttributeError, TypeError, ValueError) as err:
            raise ConfigError(f"bad app configuration: {err}") from None
        if config.page_size not in PAGE_SIZES:
            config.page_size = DEFAULT_PAGE_SIZE
        return config

    # -- derived -------------------------------------------------------------

    def describe(self, key: str) -> KeyDescription:
        """Label, description and unit of a column or key."""
        found = self.key_descriptions.get(key)
        if found is not None:
            return found
        if key in SPECIAL_COLUMNS:
            label, description = SPECIAL_COLUMNS[key]
            return KeyDescription(key, label, description)
        return KeyDescription(key, key, "")

    def ranked(self) -> list[str]:
        """Keys with a priority, most important (lowest) first."""
        ranked = [d for d in self.key_descriptions.values() if d.priority is not None]
        return [d.key for d in sorted(ranked, key=lambda d: (d.priority, d.key))]

    def summary_keys(self) -> list[str]:
        """The keys of a material's short Summary: configured, else ranked."""
        return list(self.summary) if self.summary is not None else self.ranked()

    def choose_filters(self, stats: KeyStats) -> list[Filter]:
        """The filter widgets: configured, else ranked keys, else common ones."""
        if self.filters is not None:
            specs = [f for f in self.filters if f["key"] in stats.keys]
        else:
            ranked = [k for k in self.ranked() if k in stats.keys]
            described = [k for k in self.key_descriptions if k in stats.keys]
            common = sorted(stats.keys, key=lambda k: (-stats.keys[k].count, k))
            names = list(dict.fromkeys([*ranked, *described, *common]))
            specs = [{"key": k} for k in names if _filterable(stats, k)]
            specs = specs[:AUTO_FILTERS]
        filters = []
        for spec in specs:
            info = stats.keys[spec["key"]]
            auto = "range" if info.kind == "number" else "select"
            kind = spec.get("type") or auto
            if kind == "select" and not info.selectable:
                continue
            if kind == "range" and info.kind != "number":
                continue
            label = spec.get("label") or self.describe(info.name).label
            options = tuple(info.values) if kind == "select" else ()
            filters.append(Filter(info.name, kind, label, options))
        return filters

    def rank(self, name: str) -> int:
        """Where an instruction's panel goes: by priority, the rest after."""
        try:
            return self.panel_priority.index(name)
        except ValueError:
            return len(self.panel_priority)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _add_ranks(descriptions: dict[str, KeyDescription], merged: Mapping) -> None:
    """Priorities and digits from ``key_priority`` and ``key_digits``."""
    from dataclasses import replace

    priority = dict(merged.get("key_priority") or {})
    digits = dict(merged.get("key_digits") or {})
    for key in {*priority, *digits}:
        found = descriptions.get(key) or KeyDescription(key, key, key)
        descriptions[key] = replace(
            found,
            priority=_optional_int(priority.get(key, found.priority)),
            digits=_optional_int(digits.get(key, found.digits)),
        )


def _filterable(stats: KeyStats, key: str) -> bool:
    info = stats.keys[key]
    if info.kind == "number":
        return info.minimum is not None and info.minimum != info.maximum
    return info.selectable


def _filter_spec(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"key": spec}
    if isinstance(spec, (list, tuple)):
        return {
            "key": str(spec[0]),
            **({"type": str(spec[1])} if len(spec) > 1 else {}),
        }
    if isinstance(spec, Mapping) and "key" in spec:
        kind = spec.get("type")
        if kind not in (None, "range", "select"):
            raise ValueError(f"filter type must be 'range' or 'select', not {kind!r}")
        return {k: spec[k] for k in ("key", "type", "label") if spec.get(k)}
    raise ValueError(f"a filter is a key or {{'key': ..., 'type': ...}}, not {spec!r}")
