"""A material's page, built from its database row and the Records it bundles.

`build_material` turns a row into plain data for the template: the structure
(cell, lengths, angles, atoms for the 3D viewer), a Summary panel, one panel
per Record (its Result's ``webpanel()``, figures drawn once into the row's
cache folder, the Records and arguments behind it) and links to related
materials. Nothing here writes to the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from asr.core import Record, Result, registry, use_store
from asr.core.presentation import summarise
from asr.core.result import KeyInfo
from asr.database import row_store
from asr.store import BaseStore, Tagged

from .cache import cached_figures, drawn_figures, row_folder, valid_figure
from .config import AppConfig
from .numbers import format_value

MAX_VIEWER_ATOMS = 5000
#: Keys of the short Summary when no key is ranked: the first ones found.
UNRANKED_SUMMARY = 8


@dataclass
class Entry:
    """One line of a panel's table."""

    key: str
    label: str
    value: str
    unit: str
    description: str


@dataclass
class Source:
    """A Record behind a panel: what ran, with which arguments."""

    name: str
    version: int
    uid: str
    oid: str
    arguments: list[tuple[str, str]]
    created: str
    role: str  # "result" or "dependency"


@dataclass
class Panel:
    anchor: str
    title: str
    description: str = ""
    entries: list[Entry] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (oid, name)
    sources: list[Source] = field(default_factory=list)
    error: str = ""
    name: str = ""  # instruction
    draw: Callable[[Path], list[Any]] | None = None  # draws the figures into a folder
    more: list[Entry] = field(default_factory=list)  # behind "All properties"
    thumbnails: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (oid, name, title, anchor) of other panels' figures, shown small


@dataclass
class Link:
    label: str
    href: str | None = None  # a URL elsewhere (None: not a safe one)
    ident: str | None = None  # a material of this database
    note: str = ""


@dataclass
class Structure:
    formula: str
    natoms: int
    pbc: str
    cell: list[list[str]]
    lengths: list[str]
    angles: list[str]
    volume: str
    volume_label: str
    viewer: dict[str, Any]


@dataclass
class Material:
    id: int
    unique_id: str | None
    ident: str
    formula: str
    structure: Structure
    summary: Panel
    panels: list[Panel]
    links: list[Link]
    records: list[Record]
    key_value_pairs: dict[str, Any]
    folder: Path
    error: str = ""

    def figure(self, oid: str, name: str) -> Path | None:
        """The file of a figure on this page, drawn (once) if need be."""
        for panel in self.panels:
            if (oid, name) in panel.figures and panel.draw is not None:
                if name in cached_figures(self.folder, oid, panel.draw):
                    return self.folder / oid / name
        return None


def build_material(row: Any, config: AppConfig, cache_dir: Path) -> Material:
    """Everything the material page shows, from one database row."""
    folder = row_folder(cache_dir, row.id, row.get("unique_id"))
    error = ""
    try:
        store, refs = row_store(row)
        records = [Record.from_stored(store.get(oid)) for oid in refs.values()]
    except Exception as err:  # a damaged bundle must not hide the rest
        store, records = None, []
        error = f"The Records of this material cannot be read: {err}"
    kvp = dict(row.key_value_pairs)
    ordered = sorted(records, key=lambda r: (config.rank(r.name), r.name, str(r.uid)))
    panels = []
    for number, record in enumerate(ordered, start=1):
        panel = record_panel(record, store, folder, number, config)
        if panel is not None:
            panels.append(panel)
    _number_repeated_titles(panels)
    summary = summary_panel(row, kvp, ordered, config)
    summary.thumbnails = thumbnails(panels, config.thumbnails)
    return Material(
        id=row.id,
        unique_id=row.get("unique_id"),
        ident=row.get("unique_id") or str(row.id),
        formula=row.formula,
        structure=structure(row),
        summary=summary,
        panels=panels,
        links=links(row, config.link_databases),
        records=records,
        key_value_pairs=kvp,
        folder=folder,
        error=error,
    )


def _number_repeated_titles(panels: list[Panel]) -> None:
    seen: dict[str, int] = {}
    for panel in panels:
        seen[panel.title] = seen.get(panel.title, 0) + 1
        if seen[panel.title] > 1:
            panel.title = f"{panel.title} ({seen[panel.title]})"


# -- Records -> panels -------------------------------------------------------


def record_panel(
    record: Record,
    store: BaseStore | None,
    folder: Path,
    number: int,
    config: AppConfig | None = None,
) -> Panel | None:
    """The panel of one Record, or None for a Record without data."""
    config = config or AppConfig()
    result = record.result
    if result is None:
        return None
    panel = Panel(anchor=f"panel-{number}", title=record.name, name=record.name)
    panel.sources = sources(record, store)
    try:
        if isinstance(result, Result) or callable(getattr(result, "webpanel", None)):
            data = result.webpanel()
            panel.title = str(data.get("title") or record.name)
            panel.description = str(data.get("description") or "") or _describe(
                record, result
            )
            infos = _key_infos(result)
            panel.entries = [
                _entry(item, infos, config) for item in data.get("table", [])
            ]
            panel.figures, panel.draw = _figures(record, result, store, folder, data)
        else:
            panel.description = _describe(record, result)
            panel.entries = _generic_entries(result)
    except Exception as err:  # one broken Result must not break the page
        panel.error = f"{type(err).__name__}: {err}"
    return panel


def _key_infos(result: Any) -> dict[str, KeyInfo]:
    if isinstance(result, Result):
        return {info.name: info for info in result.keys()}
    return {}


def _entry(
    item: Mapping[str, Any], infos: Mapping[str, KeyInfo], config: AppConfig
) -> Entry:
    """A line of a panel, labelled by meaning: never by a bare field name."""
    key = str(item.get("key", ""))
    info = infos.get(key)
    known = config.key_descriptions.get(key)
    description = str(item.get("description") or "")
    if known is not None and not description:
        description = known.description
    label = str(item.get("label") or "")
    if not label:
        if known is not None and known.label != key:
            label = known.label
        elif info is not None and info.label:
            label = info.label
        else:
            label = description or key
    digits = info.digits if info is not None else None
    if digits is None and known is not None:
        digits = known.digits
    return Entry(
        key=key,
        label=label,
        value=format_value(item.get("value"), digits),
        unit=str(item.get("unit") or ""),
        description=description if description != label else "",
    )


def _generic_entries(result: Any) -> list[Entry]:
    """Table lines for a result that is plain data (or an unknown type)."""
    data = result.data if isinstance(result, Tagged) else result
    if isinstance(data, Mapping):
        items = list(data.items())
    else:
        items = [("result", data)]
    return [
        Entry(str(k), str(k) if k != "result" else "Result", format_value(v), "", "")
        for k, v in items
        if not isinstance(v, (Mapping, Tagged))
    ]


def _describe(record: Record, result: Any) -> str:
    """The instruction's description, else the Result class's docstring."""
    instruction = registry().get(record.name)
    if instruction is not None and instruction.description:
        return instruction.description
    doc = type(result).__doc__ or ""
    if doc and not doc.startswith(type(result).__name__ + "("):  # not dataclass's
        return doc.strip().splitlines()[0]
    return ""


def _figures(
    record: Record,
    result: Any,
    store: BaseStore | None,
    folder: Path,
    data: Mapping[str, Any],
) -> tuple[list[tuple[str, str]], Callable[[Path], list[Any]] | None]:
    """The panel's figures, and how to draw them.

    Figures the webpanel names are drawn when first asked for (by the figure
    route), so a page shows at once; others are drawn now to learn their
    names. Either way a Record's figures are drawn once, into the cache.
    """
    oid = str(record.oid)
    wanted = [Path(str(f)).name for f in data.get("figures") or []]
    if isinstance(result, Result):
        draws = type(result).figures is not Result.figures
    else:
        draws = callable(getattr(result, "figures", None))
    if not draws:
        return [], None

    def draw(target: Path) -> list[Any]:
        if store is None:
            return result.figures(target)
        with use_store(store):  # a figure may read a File of the Record
            return result.figures(target)

    made = drawn_figures(folder, oid)
    if made is None and not wanted:
        made = cached_figures(folder, oid, draw)
    names = [n for n in wanted if made is None or n in made] if wanted else made
    return [(oid, n) for n in names or [] if valid_figure(n)], draw


def sources(record: Record, store: BaseStore | None) -> list[Source]:
    """The Record and the Records it used (those bundled with it)."""
    found = [_source(record, "result")]
    for dep in record.dependencies:
        if store is None or not store.has(dep.revision):
            continue
        try:
            found.append(
                _source(Record.from_stored(store.get(dep.revision)), "dependency")
            )
        except (ValueError, KeyError):
            continue
    return found


def _source(record: Record, role: str) -> Source:
    return Source(
        name=record.name,
        version=record.version,
        uid=str(record.uid or ""),
        oid=str(record.oid or ""),
        arguments=[(str(k), summarise(v, 70)) for k, v in record.arguments.items()],
        created=record.created,
        role=role,
    )


# -- the Summary panel ---------------------------------------------------------


def summary_panel(
    row: Any, kvp: dict[str, Any], records: list[Record], config: AppConfig
) -> Panel:
    """A short Summary (the ranked keys) and every key-value pair behind it.

    Keys are described by the database's metadata, else by the Result that
    made them; the full list puts the keys of the most important recipes
    first.
    """
    panel = Panel(
        anchor="summary",
        title="Summary",
        description="The main properties of this material, gathered from the "
        "recipes that computed them (most important first).",
    )
    infos: dict[str, KeyInfo] = {}
    contributors = []
    order = []
    for record in records:
        if not isinstance(record.result, Result):
            continue
        added = False
        for info in record.result.keys():
            if info.database and info.name in kvp and info.name not in infos:
                infos[info.name] = info
                order.append(info.name)
                added = True
        if added:
            contributors.append(record)
    described = [k for k in config.key_descriptions if k in kvp and k not in infos]
    rest = sorted(k for k in kvp if k not in infos and k not in described)
    formula = Entry("formula", "Formula", row.formula, "", "Chemical formula")
    everything = [formula] + [
        _kvp_entry(key, kvp[key], infos.get(key), config)
        for key in order + described + rest
    ]
    wanted = [k for k in config.summary_keys() if k in kvp]
    if not wanted and config.summary is None:
        panel.entries = everything[: UNRANKED_SUMMARY + 1]
    else:
        by_key = {e.key: e for e in everything}
        panel.entries = [formula] + [by_key[k] for k in wanted if k != "formula"]
    shown = {e.key for e in panel.entries}
    panel.more = everything if len(everything) > len(shown) else []
    panel.sources = [_source(r, "result") for r in contributors]
    return panel


def _kvp_entry(key: str, value: Any, info: KeyInfo | None, config: AppConfig) -> Entry:
    meta = config.key_descriptions.get(key)
    if meta is not None:
        label, unit, description = meta.label, meta.unit, meta.description
        digits = meta.digits
    elif info is not None:
        label = info.label or info.description
        unit, description, digits = info.unit, info.description, info.digits
    else:
        meta = config.describe(key)
        label, unit, description, digits = meta.label, meta.unit, meta.description, None
    if digits is None and info is not None:
        digits = info.digits
    return Entry(
        key,
        label,
        format_value(value, digits),
        unit,
        description if description != label else "",
    )


def thumbnails(
    panels: list[Panel], names: list[str]
) -> list[tuple[str, str, str, str]]:
    """The first figure of each named instruction's panel (band structure...)."""
    found = []
    for name in names:
        for panel in panels:
            if panel.name == name and panel.figures and not panel.error:
                oid, figure = panel.figures[0]
                found.append((oid, figure, panel.title, panel.anchor))
                break
    return found


# -- structure and links -------------------------------------------------------


def structure(row: Any) -> Structure:
    from ase.data import covalent_radii
    from ase.data.colors import jmol_colors

    atoms = row.toatoms()
    cell = atoms.cell
    pbc = [bool(p) for p in atoms.pbc]
    periodic = sum(pbc)
    lengths, angles = (
        (cell.cellpar()[:3], cell.cellpar()[3:]) if cell.rank else ([], [])
    )
    if periodic == 2 and cell.rank >= 2:
        a, b = (cell[i] for i in range(3) if pbc[i])
        volume, label = float(np.linalg.norm(np.cross(a, b))), ("Area", "Å²")
    else:
        volume, label = abs(float(cell.volume)), ("Volume", "Å³")
    numbers = atoms.numbers[:MAX_VIEWER_ATOMS]
    viewer = {
        "symbols": atoms.get_chemical_symbols()[:MAX_VIEWER_ATOMS],
        "positions": np.round(atoms.positions[:MAX_VIEWER_ATOMS], 4).tolist(),
        "colors": [_hex(jmol_colors[z]) for z in numbers],
        "radii": [round(float(covalent_radii[z]), 3) for z in numbers],
        "cell": np.round(cell.array, 4).tolist(),
        "pbc": pbc,
        "truncated": len(atoms) > MAX_VIEWER_ATOMS,
    }
    return Structure(
        formula=row.formula,
        natoms=len(atoms),
        pbc="".join("FT"[p] for p in pbc),
        cell=[[f"{x:.4f}" for x in vector] for vector in cell.array],
        lengths=[f"{x:.4f}" for x in lengths],
        angles=[f"{x:.3f}" for x in angles],
        volume=f"{volume:.3f} {label[1]}" if math.isfinite(volume) else "",
        volume_label=label[0],
        viewer=viewer,
    )


def _hex(rgb: Any) -> str:
    return "#" + "".join(f"{int(round(float(c) * 255)):02x}" for c in rgb)


LABEL_KEYS = ("title", "label", "name", "text", "formula")
ID_KEYS = ("unique_id", "uid", "id", "row")


def links(row: Any, databases: Mapping[str, str] | None = None) -> list[Link]:
    """Hyperlinks to related materials from ``row.data["links"]``.

    Links are written as `asr.recipes.database.treelinks` describes:
    ``{"name", "description", "uid"}`` (a row of this database, by unique
    id), with ``"db"`` for a row of another database (a hyperlink when
    `databases` maps that name to a URL template with ``{uid}``), or with
    ``"url"``. Also accepted: a list of unique ids, ``[label, url]`` pairs,
    and a dict of such lists by group name.
    """
    data = row.data.get("links") if hasattr(row, "data") and row.data else None
    if not data:
        return []
    if isinstance(data, Mapping):
        found = []
        for group, items in data.items():
            for link in _link_list(items, databases or {}):
                link.note = " — ".join(x for x in (str(group), link.note) if x)
                found.append(link)
        return found
    return _link_list(data, databases or {})


def _link_list(items: Any, databases: Mapping[str, str]) -> list[Link]:
    if isinstance(items, (str, Mapping)):
        items = [items]
    if not isinstance(items, (list, tuple)):
        return []
    return [link for item in items if (link := _link(item, databases)) is not None]


def _link(item: Any, databases: Mapping[str, str]) -> Link | None:
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        return Link(str(item), ident=str(item))
    if isinstance(item, (list, tuple)) and len(item) >= 2:
        item = {"title": item[0], "url": item[1]}
    if not isinstance(item, Mapping):
        return None
    label = next((str(item[k]) for k in LABEL_KEYS if item.get(k)), "")
    note = str(item.get("description") or item.get("kind") or "")
    if item.get("url"):
        url = str(item["url"])
        return Link(label or url, href=safe_url(url), note=note)
    for key in ID_KEYS:
        if item.get(key) not in (None, ""):
            ident = str(item[key])
            other = str(item.get("db") or "")
            if not other:
                return Link(label or ident, ident=ident, note=note)
            note = " — ".join(x for x in (f"in {other}", note) if x)
            template = databases.get(other)
            href = (
                safe_url(template.replace("{uid}", quote(ident))) if template else None
            )
            return Link(label or ident, href=href, note=note)
    return Link(label, note=note) if label else None


def safe_url(url: str) -> str | None:
    """The URL if it is http(s) or a plain path; None for anything else."""
    lowered = url.strip().lower()
    if lowered.startswith(("http://", "https://")):
        return url.strip()
    if ":" in lowered.split("/", 1)[0] or lowered.startswith("//") or "\\" in url:
        return None  # javascript:, data:, protocol-relative ...
    return url.strip()
