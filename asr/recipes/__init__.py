"""The recipe library: one module per recipe, named as in the ASR paper.

The instruction ``asr.gs`` lives in `asr.recipes.gs`, ``asr.setup.magnetize``
in `asr.recipes.setup.magnetize`. A recipe module has:

* a module docstring whose first line is the recipe's one-line description;
* a `Result` dataclass (keys with descriptions and units; `figures` and
  `webpanel` where a scientist would want a picture);
* a main instruction called `main`, declared with
  ``@instruction("asr.NAME", version=N)``, taking `atoms` first (an ASE
  Atoms) and conservative, converged defaults for everything else;
* its migrations, if the recipe changed (see CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
import pkgutil

from asr.core import Instruction, registry


class UnknownRecipeError(LookupError):
    """No recipe or instruction has this name."""


def module_name(name: str) -> str:
    """`asr.setup.magnetize` -> `asr.recipes.setup.magnetize`."""
    if not name.startswith("asr."):
        raise UnknownRecipeError(f"recipe names start with 'asr.': {name!r}")
    return "asr.recipes." + name[len("asr.") :]


def get_recipe(name: str) -> Instruction:
    """The main instruction of recipe `name`, or any registered instruction.

    `module:function` paths are accepted too, for the user's own instructions.
    """
    if ":" in name:
        module, attribute = name.split(":", 1)
        try:
            found = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as err:
            raise UnknownRecipeError(f"cannot load {name!r}: {err}") from None
        if not isinstance(found, Instruction):
            raise UnknownRecipeError(
                f"{name!r} is not an instruction (use @instruction)"
            )
        return found
    known = registry()
    if name in known:
        return known[name]
    try:
        importlib.import_module(module_name(name))
    except ModuleNotFoundError as err:
        if err.name and module_name(name).startswith(err.name):
            raise UnknownRecipeError(
                f"no recipe named {name!r}: `asr list` shows them all"
            ) from None
        raise
    known = registry()
    if name not in known:
        raise UnknownRecipeError(f"module {module_name(name)} declares no {name!r}")
    return known[name]


def load_all() -> dict[str, Instruction]:
    """Import every recipe module; returns the main instructions by name."""
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
        if (
            not info.name.rsplit(".", 1)[-1].startswith("_")
            and info.name != __name__ + ".common"
        ):
            importlib.import_module(info.name)
    return {
        name: instr
        for name, instr in sorted(registry().items())
        if name.startswith("asr.") and instr.__module__ == module_name(name)
    }
