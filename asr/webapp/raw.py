"""Raw data of a material: every Record as JSON, and as a tree to browse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asr.core import Record
from asr.core.jsonable import to_json

from .material import Material

MAX_CHILDREN = 200  # items of a list or dict shown in the browser
MAX_TEXT = 2000  # characters of a string shown in the browser


def record_json(record: Record) -> dict[str, Any]:
    return to_json(
        {
            "uid": record.uid,
            "revision": record.oid,
            "parent": record.parent,
            "name": record.name,
            "version": record.version,
            "arguments": record.arguments,
            "result": record.result,
            "metadata": record.metadata,
            "dependencies": [
                {"uid": d.uid, "revision": d.revision} for d in record.dependencies
            ],
            "migration": None if record.revision is None else record.revision.to_data(),
        }
    )


def material_json(material: Material) -> dict[str, Any]:
    """The material's row keys and all its Records, as plain JSON data."""
    return {
        "id": material.id,
        "unique_id": material.unique_id,
        "formula": material.formula,
        "key_value_pairs": to_json(material.key_value_pairs),
        "records": [record_json(r) for r in material.records],
    }


@dataclass
class Node:
    """One line of the raw-data browser: a leaf value or a folded branch."""

    label: str
    text: str = ""  # a leaf's value
    kind: str = ""  # "dict", "list", or the leaf's JSON type
    children: list[Node] = field(default_factory=list)
    more: int = 0  # children not shown


def tree(value: Any, label: str = "") -> Node:
    if isinstance(value, dict):
        items = list(value.items())
        node = Node(label, kind="dict", text=f"{len(items)} entries")
    elif isinstance(value, list):
        items = [(f"[{i}]{_named(v)}", v) for i, v in enumerate(value)]
        node = Node(label, kind="list", text=f"{len(items)} items")
    else:
        text = "null" if value is None else str(value)
        if isinstance(value, bool):
            text = "true" if value else "false"
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + f"… ({len(text)} characters)"
        return Node(label, text=text, kind=type(value).__name__)
    node.children = [tree(v, str(k)) for k, v in items[:MAX_CHILDREN]]
    node.more = max(0, len(items) - MAX_CHILDREN)
    return node


def _named(value: Any) -> str:
    """` asr.gs` for a Record (a dict with a name), to label list items."""
    name = value.get("name") if isinstance(value, dict) else None
    return f" {name}" if isinstance(name, str) else ""
