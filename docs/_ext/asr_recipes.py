"""Sphinx extension: one reference page per recipe, written at build time.

Every page comes from the recipe itself, through the same code that makes
`asr help NAME` (`asr.cli.recipe_help`, `asr.cli.params`), so the reference
cannot drift from the code. If ``ASR_DOCS_STORE`` names a store (a folder
with ``.asr/`` in it, e.g. the ``demo/`` that ``make demo`` leaves), a page
also shows the figures its Result draws from a real Record of that store.
A recipe whose Result draws figures but has no Record there gets a note
instead: the reason `examples/gallery.py` gives in ``NOT_BUILT``, or how
to make one.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOLDER = "recipes"  # below the source folder; generated, not committed
GALLERY = Path(__file__).parents[2] / "examples" / "gallery.py"


@dataclass
class Page:
    """What one recipe page says, gathered before it is written."""

    name: str
    text: str
    figures: list[str] = field(default_factory=list)


def cell(text: str) -> str:
    """Text that fits in one cell of a Markdown table."""
    return " ".join(str(text).split()).replace("|", r"\|") or " "


def code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def uses(instr: Any, known: dict[str, Any]) -> list[str]:
    """The recipes `instr`'s module calls (the instructions it imports)."""
    module = sys.modules.get(instr.function.__module__)
    found = {
        value.name
        for value in vars(module).values()
        if value is not instr
        and getattr(value, "name", None) in known
        and known[value.name] is value
    }
    return sorted(found)


def one_line(instr: Any) -> str:
    from asr.cli.recipe_help import docstrings

    docs = docstrings(instr)
    return docs[0].splitlines()[0] if docs else ""


def example(instr: Any) -> str:
    """A command line that sets the first simple parameter to its default."""
    import shlex

    from asr.cli.params import is_atoms, parameters

    for info in parameters(instr):
        simple = isinstance(info.default, bool | int | float | str)
        if simple and not is_atoms(info) and info.name != "calculator":
            value = info.default
            if isinstance(value, bool):
                value = str(value).lower()
            return shlex.quote(f"{instr.name} {info.option} {value}")
    return instr.name


def recipe_page(instr: Any, used: list[str], used_by: list[str]) -> str:
    """The Markdown (MyST) of one recipe's page."""
    from asr.cli.params import parameters, result_class
    from asr.cli.recipe_help import default_text, docstrings, quick_try

    lines = [f"# {instr.name}", "", f"Version {instr.version}.", ""]
    for doc in docstrings(instr):  # written as Markdown: backticks are code
        lines += [doc, ""]

    lines += ["## Parameters", "", "| option | type | default | unit |"]
    lines += ["|---|---|---|---|"]
    for info in parameters(instr):
        row = [code(info.option), info.type_text, default_text(info), info.unit]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    lines.append("")

    result = result_class(instr)
    if result is not None:
        lines += [f"## Result: `{result.__name__}`", ""]
        lines += ["| key | unit | description | database |", "|---|---|---|---|"]
        for key in result.keys():
            row = [code(key.name), key.unit, key.description]
            row.append("yes" if key.database else "")
            lines.append("| " + " | ".join(cell(c) for c in row) + " |")
        lines.append("")

    if used or used_by:
        lines += ["## Dependencies", ""]
        if used:
            links = ", ".join(f"[{n}]({n}.md)" for n in used)
            lines += [f"Calls: {links}.", ""]
        if used_by:
            links = ", ".join(f"[{n}]({n}.md)" for n in used_by)
            lines += [f"Called by: {links}.", ""]

    lines += ["## Run it", "", "```sh", f"asr run {example(instr)}"]
    lines += [f"asr help {instr.name}", "```", ""]
    quick = quick_try(instr)
    if quick is not None:
        lines += [
            "The defaults are production settings (minutes to hours). To try it",
            "in seconds, with results not worth keeping:",
            "",
            "```sh",
            quick,
            "```",
            "",
        ]
    return "\n".join(lines)


@dataclass
class Drawn:
    """The figures of one Record, and which Record drew them."""

    uid: str
    directory: str
    paths: list[Path]


def figures_from_store(store_folder: Path, out: Path) -> dict[str, Drawn]:
    """Each recipe's figures, drawn from the first of its Records that has any."""
    import matplotlib

    matplotlib.use("Agg")
    from asr.core import use_store
    from asr.core.cache import all_records
    from asr.store import open_store

    store = open_store(store_folder)
    drawn: dict[str, Drawn] = {}
    with use_store(store):
        for record in all_records(store):
            draw = getattr(record.result, "figures", None)
            if record.name in drawn or not callable(draw):
                continue
            folder = out / record.name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)  # as `asr results` does
            paths = [Path(p) for p in draw(folder)]
            if paths:
                where = str(record.metadata.get("directory", "."))
                drawn[record.name] = Drawn(record.uid, where, paths)
    return drawn


def draws_figures(instr: Any) -> bool:
    """Whether the recipe's Result overrides `Result.figures`."""
    from asr.cli.params import result_class
    from asr.core import Result

    result = result_class(instr)
    return result is not None and result.figures is not Result.figures


def not_built() -> dict[str, str]:
    """The gallery's reasons for the figures it does not make (none if the
    docs are built outside a checkout)."""
    if not GALLERY.is_file():
        return {}
    return dict(load_gallery().NOT_BUILT)


def load_gallery() -> Any:
    """examples/gallery.py as a module (it imports no GPAW until it runs)."""
    import importlib.util

    name = "asr_docs_gallery"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GALLERY)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def missing_figure(name: str, reasons: dict[str, str]) -> str:
    """The Figures section of a recipe whose figure the store did not give."""
    if name in reasons:
        why = f"Not built with these pages: {reasons[name]}"
    else:
        why = (
            "The store these pages were built from has no Record of it"
            " that draws one:"
            " `make docs` draws this figure after `make demo` and"
            " `examples/gallery.py` have made one."
        )
    return f"\n## Figures\n\nThis recipe's Result draws figures. {why}\n"


def write_if_changed(path: Path, text: str) -> None:
    """Unchanged pages keep their time stamps: Sphinx then skips them."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(srcdir: Path, store_folder: Path | None) -> list[str]:
    """Write ``recipes/*.md`` into `srcdir`; returns the recipe names."""
    from asr.core import load_all

    known = load_all()
    folder = srcdir / FOLDER
    folder.mkdir(exist_ok=True)
    calls = {name: uses(instr, known) for name, instr in known.items()}
    figures: dict[str, Drawn] = {}
    shutil.rmtree(folder / "_figures", ignore_errors=True)
    if store_folder is not None:
        figures = figures_from_store(store_folder, folder / "_figures")

    reasons = not_built()
    for name, instr in known.items():
        used_by = sorted(n for n, used in calls.items() if name in used)
        text = recipe_page(instr, calls[name], used_by)
        if name in figures:
            drawn = figures[name]
            text += (
                f"\n## Figures\n\nDrawn when this page was built, by the Result of"
                f" Record `{drawn.uid[:12]}` (folder `{drawn.directory}`).\n\n"
            )
            for path in drawn.paths:
                rel = path.resolve().relative_to(folder.resolve())
                text += f"![{name}: {path.stem}]({rel.as_posix()})\n\n"
        elif draws_figures(instr):
            text += missing_figure(name, reasons)
        write_if_changed(folder / f"{name}.md", text)

    index = [
        "# Recipes",
        "",
        "One page per recipe, generated from its code when the documentation",
        "is built: the same text `asr help NAME` prints. Each figure is drawn",
        "by the Result of a real, tiny run: `make docs` reads them from the",
        "store in `demo/` (or `ASR_DOCS_STORE`), where `make demo` and",
        "`examples/gallery.py` made them once. The numbers are not converged.",
        "",
        "| recipe | what it does |",
        "|---|---|",
    ]
    for name, instr in known.items():
        index.append(f"| [{name}]({name}.md) | {cell(one_line(instr))} |")
    index += ["", "```{toctree}", ":hidden:", "", *known, "```", ""]
    write_if_changed(folder / "index.md", "\n".join(index))
    for stale in folder.glob("*.md"):
        if stale.stem != "index" and stale.stem not in known:
            stale.unlink()
    return list(known)


def on_builder_inited(app: Any) -> None:
    env = os.environ.get("ASR_DOCS_STORE")
    store = Path(env) if env else None
    if store is not None and not (store / ".asr").is_dir():
        from sphinx.errors import ConfigError

        raise ConfigError(f"ASR_DOCS_STORE={env}: no .asr/ store in that folder")
    generate(Path(app.srcdir), store)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", on_builder_inited)
    return {"parallel_read_safe": True, "version": "1"}
