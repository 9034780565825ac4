"""The instruction core: Instructions, Records, Results, dependency capture.

Knows nothing about materials: it would work for any computational science.
"""

from . import codecs as _codecs  # noqa: F401  (registers Atoms, paths)
from .arguments import ArgumentError
from .codecs import register_dataclass
from .context import get_store, use_store
from .files import File
from .instruction import Instruction, InstructionError, instruction, registry
from .plugins import UnknownRecipeError, get_recipe, load_all
from .record import Dependency, Record, Revision
from .records import Records
from .result import Result, key

__all__ = [
    "ArgumentError",
    "Dependency",
    "File",
    "Instruction",
    "InstructionError",
    "Record",
    "Records",
    "Result",
    "Revision",
    "UnknownRecipeError",
    "get_recipe",
    "get_store",
    "instruction",
    "key",
    "load_all",
    "register_dataclass",
    "registry",
    "use_store",
]
