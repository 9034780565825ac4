"""Record: one call of an instruction, with everything needed to trust it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from asr.store import ObjectId, StoredObject, Uid

from .presentation import presentable, rich_value, summarise
from .tables import html_grid, text

# The entries of a stored Record, in the order `to_payload` lists them.
PAYLOAD_KEYS = (
    "type",
    "name",
    "version",
    "arguments",
    "result",
    "metadata",
    "dependencies",
    "revision",
)


@dataclass(frozen=True)
class Dependency:
    """A Record used while another was made: its uid and exact revision."""

    uid: Uid
    revision: ObjectId


@dataclass(frozen=True)
class Revision:
    """How a revision was made from its parent (a migration, or an edit)."""

    uid: str
    migration: str
    description: str
    changes: list[dict] = field(default_factory=list)

    def to_data(self) -> dict:
        return {
            "uid": self.uid,
            "migration": self.migration,
            "description": self.description,
            "changes": self.changes,
        }

    @classmethod
    def from_data(cls, data: dict | None) -> Revision | None:
        return None if data is None else cls(**data)


def attempt_lines(attempts: list) -> list[str]:
    """One line per failed attempt before a Record (written by workflows)."""
    lines = []
    for a in attempts:
        if not isinstance(a, dict):
            continue
        line = f"{a.get('attempt', '?')}: {a.get('error', '')}"
        if "argument" in a:
            line += f" -> {a.get('handler')} handler set {a['argument']}"
            line += f" {a.get('old')!r} -> {a.get('new')!r}"
        elif "resources" in a:
            line += f" -> resubmitted with {a['resources']}"
        lines.append(line)
    return lines


@dataclass
class Record:
    """The result of a call and its full provenance.

    `oid` names this revision's object in the store and `parent` the one it
    was migrated from; `uid` stays the same through all revisions.
    """

    name: str
    version: int
    arguments: dict[str, Any]
    result: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    dependencies: list[Dependency] = field(default_factory=list)
    revision: Revision | None = None
    uid: Uid | None = None
    oid: ObjectId | None = None
    parent: ObjectId | None = None

    def to_payload(self) -> dict[str, Any]:
        return {key: self.payload_value(key) for key in PAYLOAD_KEYS}

    def payload_value(self, key: str) -> Any:
        """One entry of `to_payload` (a migration re-encodes only those it touched)."""
        if key == "type":
            return "asr.record"
        if key == "dependencies":
            return [[d.uid, d.revision] for d in self.dependencies]
        if key == "revision":
            return None if self.revision is None else self.revision.to_data()
        return getattr(self, key)

    @classmethod
    def from_stored(cls, obj: StoredObject) -> Record:
        payload = obj.payload
        if obj.kind != "record" or not isinstance(payload, dict):
            raise ValueError(f"object {obj.oid} is a {obj.kind}, not a Record")
        return cls(
            name=payload["name"],
            version=payload["version"],
            arguments=payload["arguments"],
            result=payload["result"],
            metadata=payload["metadata"],
            dependencies=[
                Dependency(Uid(u), ObjectId(o)) for u, o in payload["dependencies"]
            ],
            revision=Revision.from_data(payload.get("revision")),
            uid=obj.uid,
            oid=obj.oid,
            parent=obj.parent,
        )

    def metadata_entry(self, key: str, default: Any = None) -> Any:
        """One entry of the metadata (a lazily read Record decodes no other)."""
        return self.metadata.get(key, default)

    @staticmethod
    def is_record(obj: StoredObject) -> bool:
        return (
            obj.kind == "record"
            and isinstance(obj.payload, dict)
            and obj.payload.get("type") == "asr.record"
        )

    # -- presentation -------------------------------------------------------

    @property
    def created(self) -> str:
        start = self.metadata.get("start")
        if start is None:
            return ""
        return datetime.datetime.fromtimestamp(start).isoformat(" ", "seconds")

    def summary(self) -> str:
        return f"{self.name} v{self.version} {summarise(self.arguments, 60)}"

    def result_summary(self, width: int = 60) -> str:
        """The result on one line (a Result's scalar keys)."""
        return summarise(self.result, width)

    def __rich__(self):
        from rich.table import Table

        table = Table(
            title=text(f"Record {self.uid}"), show_header=False, title_justify="left"
        )
        table.add_column(style="bold cyan")
        table.add_column()
        table.add_row("revision", text(self.oid))
        table.add_row("instruction", text(f"{self.name} (version {self.version})"))
        for key, value in self.arguments.items():
            table.add_row(text(f"  {key}"), rich_value(value))
        table.add_row("result", rich_value(self.result))
        for dep in self.dependencies:
            table.add_row("dependency", text(f"{dep.uid} @ {dep.revision}"))
        if self.revision is not None:
            table.add_row("migrated by", text(self.revision.description))
        meta = self.metadata
        lines = attempt_lines(meta.get("attempts") or [])
        for number, line in enumerate(lines):
            label = "" if number else f"made after {len(lines) + 1} attempts"
            table.add_row(label, text(line))
        if meta:
            table.add_row("created", text(self.created))
            table.add_row("wall time", text(f"{meta.get('wall_time', 0):.3f} s"))
            table.add_row(
                "host", text(f"{meta.get('host')} ({meta.get('mpi_ranks', 1)} ranks)")
            )
            versions = meta.get("versions", {})
            table.add_row(
                "versions", text(", ".join(f"{k} {v}" for k, v in versions.items()))
            )
        return table

    def _repr_html_(self) -> str:
        rows = [
            ("uid", self.uid),
            ("revision", self.oid),
            ("instruction", f"{self.name} v{self.version}"),
            *((f"argument {k}", summarise(v, 200)) for k, v in self.arguments.items()),
            ("result", self.result_summary(400)),
            ("created", self.created),
            ("folder", self.metadata.get("directory", "")),
        ]
        table = html_grid(f"Record {self.uid}", None, rows)
        result_html = getattr(presentable(self.result), "_repr_html_", None)
        extra = result_html() if callable(result_html) else ""
        return f"{table}{extra}"
