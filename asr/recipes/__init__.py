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

Modules are registered as the plugin ``asr`` (entry point group
``asr.recipes`` in pyproject.toml), exactly as a user's own recipe package
is; `asr.core.plugins` finds them.
"""

from asr.core.plugins import UnknownRecipeError, get_recipe, load_all

__all__ = ["UnknownRecipeError", "get_recipe", "load_all"]
