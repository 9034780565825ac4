"""Links between the material folders of a tree that share a reduced formula.

A link is a small dict the web app turns into a hyperlink::

    {"name": "MoS2-b", "description": "...", "uid": "<row unique_id>"}
    {"name": "...", "description": "...", "db": "c2db", "uid": "<unique_id>"}
    {"name": "...", "description": "...", "url": "https://..."}

``uid`` names a row by its ASE ``unique_id``; without ``db`` the row is in
the same database. `asr database fromtree` gives the row of a material folder
the unique_id `material_uid(folder)`, so a link to a folder is known before
any database exists. A folder's links live in its ``links.json``, which
`fromtree` copies into ``row.data["links"]``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms
from ase.formula import Formula

from asr.core import Record, Result, instruction, key
from asr.store import digest, find_root

LINKS_FILE = "links.json"


def material_uid(folder: str) -> str:
    """The ASE ``unique_id`` of a material folder's row, in every database.

    `folder` is relative to the folder holding the store (``.asr/``).
    """
    return digest(f"asr-material:{folder}".encode()).hex()


def reduced_formula(atoms: Atoms | str) -> str:
    """``MoS2`` for Mo2S4: the formula divided by its largest common factor."""
    formula = atoms if isinstance(atoms, str) else atoms.get_chemical_formula()
    return Formula(formula).reduce()[0].format("metal")


def is_tree_link(link: dict) -> bool:
    """A link to a row of the same database (what treelinks writes)."""
    return "uid" in link and link.get("db") is None


@dataclass
class TreeLinksResult(Result):
    title = "Links within the tree"
    formulas: dict = field(metadata=key("Reduced formula of each material folder"))
    links: dict = field(metadata=key("Links of each material folder"))
    nlinks: int = field(metadata=key("Number of links"))


@instruction("asr.database.treelinks", version=0)
def main(structures: dict) -> TreeLinksResult:
    """Link each material folder to the others with the same reduced formula.

    `structures` maps each folder (relative to the store's top folder) to its
    atomic structure.
    """
    formulas = {folder: reduced_formula(atoms) for folder, atoms in structures.items()}
    by_formula: dict[str, list[str]] = defaultdict(list)
    for folder in sorted(formulas):
        by_formula[formulas[folder]].append(folder)
    links: dict[str, list[dict[str, Any]]] = {}
    for folder in sorted(formulas):
        formula = formulas[folder]
        links[folder] = [
            {
                "name": other,
                "description": f"Another structure of {formula} in this tree",
                "uid": material_uid(other),
            }
            for other in by_formula[formula]
            if other != folder
        ]
    return TreeLinksResult(
        formulas=formulas,
        links=links,
        nlinks=sum(len(found) for found in links.values()),
    )


def read_links(path: Path) -> list[dict]:
    """The links in a ``links.json`` (an empty list if there is none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    links = json.loads(text)
    if not isinstance(links, list) or not all(isinstance(x, dict) for x in links):
        raise ValueError(f"{path} does not hold a list of links")
    return links


def write_links(folder: Path, links: list[dict]) -> bool:
    """Write ``links.json`` if it changes; returns whether it was written."""
    path = folder / LINKS_FILE
    if not links and not path.exists():
        return False
    try:
        if read_links(path) == links:
            return False
    except ValueError:
        pass  # not links: replaced
    text = json.dumps(links, indent=1) + "\n"
    tmp = path.with_name(f".{LINKS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


@dataclass
class TreeLinksReport:
    record: Record | None
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def link_tree(
    folders: Iterable[str | os.PathLike], structure: str = "structure.json"
) -> TreeLinksReport:
    """Run `main` on the structures of `folders`; update their ``links.json``.

    Links made earlier by this recipe are replaced; other links (to other
    databases, to web pages) are kept. A folder whose structure cannot be
    read is skipped and reported. The Record goes into the store in use.
    """
    from ase.io import read

    report = TreeLinksReport(record=None)
    structures: dict[str, Atoms] = {}
    paths: dict[str, Path] = {}
    for given in folders:
        folder = Path(given)
        try:
            top = find_root(folder)
            atoms = read(folder / structure)
        except Exception as err:  # ASE raises many kinds for unreadable files
            report.skipped.append((folder, _one_line(err)))
            continue
        name = os.path.relpath(folder.resolve(), top)
        structures[name] = atoms
        paths[name] = folder
    if not structures:
        return report
    report.record = main(structures=structures)
    links = report.record.result.links
    for name, folder in paths.items():
        try:
            kept = [x for x in read_links(folder / LINKS_FILE) if not is_tree_link(x)]
        except ValueError as err:
            report.skipped.append((folder, _one_line(err)))
            continue
        if write_links(folder, kept + links.get(name, [])):
            report.written.append(folder / LINKS_FILE)
    return report


def _one_line(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())
