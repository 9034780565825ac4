"""Sphinx configuration of ASR's documentation (``make docs``)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # document this checkout's asr
sys.path.insert(0, str(HERE / "_ext"))

from asr import __version__  # noqa: E402

project = "ASR"
author = "ASR developers"
copyright = "ASR developers"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "asr_recipes",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_ext", "recipes/_figures"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# Nitpicky (-n): every reference must resolve, except to other projects'
# objects (no intersphinx: the build needs no network) and to internal types
# that public signatures mention.
nitpick_ignore_regex = [
    ("py:class", r"(os|collections|pathlib|contextlib|typing|numpy|ase|flask|mq)\..*"),
    ("py:class", r"Path"),
    ("py:class", r"asr\.(store\.files\.FileLock|database\.bundle\.RevisionInfo)"),
    ("py:class", r"asr\.core\.tables\.Row"),
]

html_theme = "alabaster"
html_title = f"ASR {version}"
html_static_path: list[str] = []


def load_lazy_commands(group) -> None:
    """Import every lazily listed subcommand, so that sphinx-click, which
    reads a group's ``commands``, documents all of them."""
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            load_lazy_commands(command)


def setup(app) -> None:
    from asr.cli.main import cli

    load_lazy_commands(cli)
