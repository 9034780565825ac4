"""ASR: Atomic Simulation Recipes.

The names a script needs are importable from here; they load lazily so that
`import asr.store` stays light.
"""

__version__ = "0.1.0"

_CORE_NAMES = (
    "File",
    "Record",
    "Result",
    "get_store",
    "instruction",
    "key",
    "use_store",
)

__all__ = list(_CORE_NAMES)


def __getattr__(name: str):
    if name in _CORE_NAMES:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'asr' has no attribute {name!r}")
