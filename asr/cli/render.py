"""Rendering stored objects for people (rich) and for programs (JSON).

Higher layers plug in without the store knowing them, in this order:

1. `register_object_renderer(func)`: ``func(obj: StoredObject)`` returns a
   renderable for the whole object, or None to pass (e.g. one that knows
   what a Record looks like);
2. `register_renderer(cls, func)`: renders payload values of type `cls`
   (and subclasses) wherever they appear;
3. a value with ``__rich__`` or ``__rich_console__`` renders itself.

Everything else is shown generically: dicts and nested lists as a tree,
arrays as dtype, shape and a few values, bytes as size and first bytes.
JSON output uses `asr.core.jsonable.to_json` (with its own registry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from rich.console import Group, RenderableType
from rich.highlighter import ReprHighlighter
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from asr.core.jsonable import register_json, to_json  # noqa: F401  (re-exported)
from asr.core.presentation import presentable
from asr.store import ObjectId, StoredObject, Tagged, Uid

Renderer = Callable[[Any], RenderableType]
ObjectRenderer = Callable[[StoredObject], "RenderableType | None"]

_renderers: dict[type, Renderer] = {}
_object_renderers: list[ObjectRenderer] = []

MAX_ITEMS = 20  # list items shown before "… N more"
MAX_INLINE = 8  # scalars of a list shown on one line
ARRAY_VALUES = 6  # values of an array shown in its summary
BLOB_BYTES = 32  # first bytes of a blob shown
MAX_STRING = 400

_highlight = ReprHighlighter()


def register_renderer(cls: type, renderer: Renderer) -> None:
    """Render payload values of type `cls` (or a subclass) with `renderer`."""
    _renderers[cls] = renderer


def register_object_renderer(renderer: ObjectRenderer) -> None:
    """Try `renderer` first for every object `asr show` displays."""
    _object_renderers.insert(0, renderer)


def _lookup(registry: dict[type, Any], value: Any) -> Any:
    for cls in type(value).__mro__:
        if cls in registry:
            return registry[cls]
    return None


def _renders_itself(value: Any) -> bool:
    cls = type(value)
    return hasattr(cls, "__rich__") or hasattr(cls, "__rich_console__")


# -- rich ---------------------------------------------------------------------


def render_object(obj: StoredObject) -> RenderableType:
    """Kind, id, header and payload of an object, for `asr show`."""
    for renderer in _object_renderers:
        found = renderer(obj)
        if found is not None:
            return found
    table = render_header(obj)
    body = render_payload(obj.payload)
    if isinstance(body, Text):  # one line: a row of the table
        table.add_row("content" if obj.kind == "blob" else "payload", body)
        return table
    return Group(table, body)


def render_header(obj: StoredObject) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row(obj.kind, Text(obj.oid, style="yellow"))
    if obj.kind == "record":
        table.add_row("uid", Text(str(obj.uid)))
        parent = obj.parent
        table.add_row(
            "parent",
            Text(parent, style="yellow") if parent else Text("none", style="dim"),
        )
        index = obj.index
        if index is not None:
            table.add_row(
                "index",
                f"exact {index.exact.hex()[:12]}…  shape {index.shape.hex()[:12]}…"
                f"  {len(index.floats)} floats",
            )
    for key, value in obj.header.items():
        if obj.kind != "record" or key not in ("uid", "parent", "index"):
            table.add_row(Text(str(key)), inline(value))
    return table


def render_payload(value: Any, label: str = "payload") -> RenderableType:
    """A payload as a renderable: a tree for containers, else one line."""
    value = presentable(value)  # a Result whose class is not loaded: a table
    custom = _lookup(_renderers, value)
    if custom is not None:
        return custom(value)
    if _renders_itself(value):
        return value
    if isinstance(value, bytes):
        return _bytes_preview(value)
    if _is_branch(value):
        tree = Tree(Text(label, style="bold"))
        _add_children(tree, value)
        return tree
    return inline(value)


def _is_branch(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(value)
    if isinstance(value, Tagged):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) > MAX_INLINE or any(
            isinstance(v, (Mapping, list, tuple, Tagged, np.ndarray)) for v in value
        )
    return False


def _add_children(tree: Tree, value: Any) -> None:
    if isinstance(value, Tagged):
        _add(tree, Text("data"), value.data)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _add(tree, Text(str(key), style="bold"), item)
    else:
        for number, item in enumerate(value[:MAX_ITEMS]):
            _add(tree, Text(f"[{number}]", style="bold"), item)
        if len(value) > MAX_ITEMS:
            tree.add(Text(f"… {len(value) - MAX_ITEMS} more", style="dim"))


def _add(tree: Tree, label: Text, value: Any) -> None:
    value = presentable(value)
    custom = _lookup(_renderers, value)
    if custom is not None or _renders_itself(value):
        node = tree.add(label)
        node.add(custom(value) if custom is not None else value)
    elif _is_branch(value):
        if isinstance(value, Tagged):
            label = Text.assemble(label, " ", (f"<{value.tag}>", "magenta"))
        _add_children(tree.add(label), value)
    else:
        tree.add(Text.assemble(label, ": ", inline(value)))


def inline(value: Any) -> Text:
    """One line for a leaf value."""
    if isinstance(value, (ObjectId, Uid)):
        kind = "object" if isinstance(value, ObjectId) else "uid"
        return Text.assemble((str(value), "yellow"), (f" ({kind})", "dim"))
    if isinstance(value, np.ndarray):
        return _array_summary(value)
    if isinstance(value, np.generic):
        return Text.assemble(
            _highlight(Text(repr(value.item()))), (f" ({value.dtype})", "dim")
        )
    if isinstance(value, bytes):
        return _bytes_preview(value)
    if isinstance(value, str) and len(value) > MAX_STRING:
        return Text.assemble(
            _highlight(Text(repr(value[:MAX_STRING]))),
            (f"… ({len(value)} characters)", "dim"),
        )
    if isinstance(value, Tagged):
        return Text.assemble((f"<{value.tag}> ", "magenta"), inline(value.data))
    if isinstance(value, (list, tuple)) and len(value) <= MAX_INLINE:
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        parts = Text(open_)
        for number, item in enumerate(value):
            if number:
                parts.append(", ")
            parts.append_text(inline(item))
        if isinstance(value, tuple) and len(value) == 1:
            parts.append(",")
        parts.append(close)
        return parts
    return _highlight(Text(repr(value)))


def _array_summary(array: np.ndarray) -> Text:
    flat = array.ravel()
    shown = [_number(value) for value in flat[:ARRAY_VALUES].tolist()]
    if flat.size > ARRAY_VALUES:
        shown.append("…")
    values = Text("[" + ", ".join(shown) + "]")
    shape = "×".join(str(n) for n in array.shape) or "scalar"
    return Text.assemble(
        ("array ", "dim"), (f"{array.dtype} {shape} ", "cyan"), _highlight(values)
    )


def _number(value: Any) -> str:
    if isinstance(value, (float, complex)):
        return f"{value:.6g}"
    return repr(value)


def _bytes_preview(data: bytes) -> Text:
    head = repr(data[:BLOB_BYTES]) + ("…" if len(data) > BLOB_BYTES else "")
    text = Text.assemble((f"{len(data)} bytes ", "cyan"), _highlight(Text(head)))
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


# -- JSON ---------------------------------------------------------------------


def object_json(obj: StoredObject) -> dict:
    return {
        "id": str(obj.oid),
        "kind": obj.kind,
        "header": to_json(obj.header),
        "payload": to_json(obj.payload),
    }
