"""Recipe plugins: the modules whose instructions ASR knows, by entry point.

A package declares its recipe modules in the entry-point group
``asr.recipes``, as ASE, pytest and AiiDA plugins do::

    [project.entry-points."asr.recipes"]
    mypkg = "mypkg.recipes"

Every `@instruction` in that module (and, for a package, in every module
below it) is a recipe: `asr list`, `asr run NAME`, `asr cache migrate`,
`asr results`, the database and the web app see it. ASR's own library is
registered the same way (``asr = "asr.recipes"``).

The registry is also the only way a stored Result's class is found: its tag
(``result:mypkg.recipes.GapResult``) names a module, which is imported only
if it is registered here. Data never chooses what is imported; a tag of an
unregistered module stays `Tagged` and is shown as a generic table.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass

from asr.store import add_tag_resolver

from .instruction import Instruction, registry

GROUP = "asr.recipes"
# Modules of a registered package that hold no recipes.
SKIPPED = frozenset({"common"})


class UnknownRecipeError(LookupError):
    """No registered recipe or instruction has this name."""


@dataclass(frozen=True)
class Plugin:
    """One entry point: a name (the package) and the module it registers."""

    name: str
    module: str


@functools.cache
def plugins() -> tuple[Plugin, ...]:
    """The registered recipe modules, as installed packages declare them."""
    from importlib.metadata import entry_points

    found = {ep.value.split(":")[0]: ep.name for ep in entry_points(group=GROUP)}
    return tuple(Plugin(name, module) for module, name in sorted(found.items()))


def plugin_of(module: str | None) -> Plugin | None:
    """The plugin that registers `module` (itself, or a package above it)."""
    for plugin in plugins():
        if module == plugin.module or (module or "").startswith(plugin.module + "."):
            return plugin
    return None


def is_registered(module: str | None) -> bool:
    return plugin_of(module) is not None


def recipe_modules() -> list[str]:
    """Every registered module: the entry points' and their submodules."""
    names = []
    for plugin in plugins():
        names.append(plugin.module)
        try:
            top = importlib.import_module(plugin.module)
        except ImportError as err:
            raise UnknownRecipeError(
                f"plugin {plugin.name!r} registers {plugin.module!r}, which cannot "
                f"be imported: {err}"
            ) from None
        for info in pkgutil.walk_packages(
            getattr(top, "__path__", []), prefix=plugin.module + "."
        ):
            last = info.name.rsplit(".", 1)[-1]
            if not last.startswith("_") and last not in SKIPPED:
                names.append(info.name)
    return names


def load_all() -> dict[str, Instruction]:
    """Import every registered module; its instructions by name, sorted."""
    for module in recipe_modules():
        importlib.import_module(module)
    return {
        name: instr
        for name, instr in sorted(registry().items())
        if is_registered(instr.__module__)
    }


def get_recipe(name: str) -> Instruction:
    """A registered instruction by name (``asr.gs``, ``mypkg.gap``).

    A ``module:function`` path is accepted too, for instructions of a
    module that no plugin registers (the user's own scripts).
    """
    if ":" in name:
        return _from_path(name)
    known = registry()
    if name not in known:
        _import_named(name)
        known = registry()
    if name not in known:
        known = load_all()
    if name not in known:
        raise UnknownRecipeError(f"no recipe named {name!r}: `asr list` shows them all")
    return known[name]


def _import_named(name: str) -> None:
    """Import the module a name points at by convention, if there is one:
    ``asr.gs`` lives in ``asr.recipes.gs`` (plugin ``asr``, module
    ``asr.recipes``), so most lookups import one module, not all."""
    for plugin in plugins():
        if name.startswith(plugin.name + "."):
            module = plugin.module + name[len(plugin.name) :]
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as err:
                if not (err.name and module.startswith(err.name)):
                    raise  # the module exists but imports something missing
            return


def _from_path(path: str) -> Instruction:
    module, attribute = path.split(":", 1)
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise UnknownRecipeError(f"cannot load {path!r}: {err}") from None
    if not isinstance(found, Instruction):
        raise UnknownRecipeError(f"{path!r} is not an instruction (use @instruction)")
    return found


def loader_name(instr: Instruction) -> str | None:
    """How another process finds `instr`: its name when a plugin registers
    its module, else ``module:function``; None for a script's instruction."""
    module = instr.__module__
    if is_registered(module):
        return instr.name
    if module in ("__main__", "<run_path>", None):
        return None
    return f"{module}:{instr.__name__}"


def _resolve_tag(tag: str) -> None:
    """Import the registered module that defines a tagged type, if any
    (``result:asr.recipes.gs.GroundStateResult`` -> ``asr.recipes.gs``)."""
    _kind, _, path = tag.partition(":")
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        if is_registered(module):
            try:
                importlib.import_module(module)
            except ImportError:
                continue
            return


add_tag_resolver(_resolve_tag)
