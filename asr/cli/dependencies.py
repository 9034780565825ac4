"""The dependency DAG of a Record: as a rich tree, or as Graphviz dot."""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from asr.core import Record
from asr.store import BaseStore, StoredObject


def _label(record: Record) -> Text:
    return Text.assemble(f"{record.name} v{record.version} ", (record.oid[:12], "dim"))


def dependency_tree(store: BaseStore, obj: StoredObject) -> Tree:
    """Each Record with the exact revisions it used, recursively."""
    root = Record.from_stored(obj)
    tree = Tree(_label(root))
    stack = [(root, tree, frozenset({root.oid}))]
    while stack:
        record, node, path = stack.pop()
        for dep in record.dependencies:
            child = Record.from_stored(store.get(dep.revision))
            branch = node.add(_label(child))
            if child.oid not in path:  # a DAG has no loops, but be safe
                stack.append((child, branch, path | {child.oid}))
    return tree


def dependency_dot(store: BaseStore, obj: StoredObject) -> str:
    """Graphviz dot of the dependency DAG (edges point at what was used)."""
    lines = ["digraph dependencies {", "  rankdir=LR;", "  node [shape=box];"]
    seen: set[str] = set()
    stack = [Record.from_stored(obj)]
    while stack:
        record = stack.pop()
        if record.oid in seen:
            continue
        seen.add(record.oid)
        lines.append(
            f'  "{record.oid}" [label="{record.name} v{record.version}\\n'
            f'{record.oid[:12]}"];'
        )
        for dep in record.dependencies:
            lines.append(f'  "{record.oid}" -> "{dep.revision}";')
            stack.append(Record.from_stored(store.get(dep.revision)))
    lines.append("}")
    return "\n".join(lines) + "\n"
