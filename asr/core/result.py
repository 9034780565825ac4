"""`Result`: the documented output of a recipe.

A Result is a dataclass whose fields are its keys; each declares a
description and a unit with `key(...)`. Results render themselves as text
(rich), as figures (matplotlib, `figures`) and as web-panel data (`webpanel`),
so neither the core nor the command line needs to know any recipe.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from asr.store import Tagged, register_type

from .presentation import result_summary, summarise
from .tables import Row, html_table, rich_table


def key(
    description: str,
    unit: str = "",
    *,
    database: bool = False,
    label: str = "",
    priority: int | None = None,
    digits: int | None = None,
    **extra,
) -> dict:
    """Field metadata: `dataclasses.field(metadata=key("Band gap", "eV"))`.

    `database=True` marks a key to be collected as a database key-value pair.
    `priority` ranks a database key among all recipes' keys (1 comes first):
    ranked keys are the default columns, filters and Summary of a project, so
    a reader sees what matters before the rest. `digits` is how many decimals
    its numbers are shown with (else a default that follows the magnitude).
    `label` is a short name for a column header (else the description).
    """
    return {
        "description": description,
        "unit": unit,
        "database": database,
        "label": label,
        "priority": priority,
        "digits": digits,
        **extra,
    }


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    name: str
    description: str
    unit: str
    database: bool
    priority: int | None = None
    digits: int | None = None
    label: str = ""


class Result:
    """Base of recipe results. Subclasses are dataclasses (`@dataclass`)."""

    title: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        tag = f"result:{cls.__module__}.{cls.__qualname__}"

        def to_data(obj, cls=cls):
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)}

        def from_data(data, cls=cls, tag=tag):
            # Data stored by an older version of the class may not fit it any
            # more: it then comes back as Tagged data, for a migration to fix.
            names = {f.name for f in dataclasses.fields(cls)}
            if not set(data) <= names:
                return Tagged(tag, data)
            try:
                return cls(**data)
            except TypeError:
                return Tagged(tag, data)

        register_type(cls, tag, to_data, from_data)

    @classmethod
    def keys(cls) -> list[KeyInfo]:
        infos = []
        for f in dataclasses.fields(cls):
            meta = f.metadata
            infos.append(
                KeyInfo(
                    f.name,
                    meta.get("description", f.name),
                    meta.get("unit", ""),
                    bool(meta.get("database", False)),
                    meta.get("priority"),
                    meta.get("digits"),
                    meta.get("label") or "",
                )
            )
        return infos

    def items(self) -> list[tuple[KeyInfo, Any]]:
        return [(info, getattr(self, info.name)) for info in self.keys()]

    def database_keys(self) -> dict[str, Any]:
        """Key-value pairs for an ASE database row (scalars only)."""
        pairs = {}
        for info, value in self.items():
            if info.database and isinstance(value, (bool, int, float, str)):
                pairs[info.name] = value
        return pairs

    def summary(self) -> str:
        return result_summary(
            type(self).__name__, [(i.name, v) for i, v in self.items()]
        )

    def key_rows(self, width: int = 60) -> list[Row]:
        """One row per key: name, summarised value, unit, description."""
        return [
            Row(info.name, summarise(value, width), info.unit, info.description)
            for info, value in self.items()
        ]

    def __rich__(self):
        return rich_table(self.title or type(self).__name__, self.key_rows())

    def _repr_html_(self) -> str:
        return html_table(self.title or type(self).__name__, self.key_rows(80))

    def figures(self, folder: Path) -> list[Path]:
        """Write this result's figures into `folder`; returns their paths."""
        return []

    def webpanel(self) -> dict[str, Any]:
        """Data for a panel of the web app: a title, a table, figure names."""
        return {
            "title": self.title or type(self).__name__,
            "table": [
                {
                    "key": i.name,
                    "value": v,
                    "unit": i.unit,
                    "description": i.description,
                }
                for i, v in self.items()
                if isinstance(v, (bool, int, float, str))
            ],
            "figures": [],
        }
