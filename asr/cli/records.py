"""Record-aware rendering for `asr show`, and the record errors users make.

Importing this module plugs Records into the generic object renderer.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from asr.core import ArgumentError, InstructionError, Record
from asr.core.mpi import MPILaunchError
from asr.core.plugins import UnknownRecipeError
from asr.store import BaseStore, StoredObject

from .common import add_user_error
from .render import register_object_renderer

add_user_error(
    ArgumentError,
    InstructionError,
    # By name: importing these modules would slow down `asr show`.
    UnknownRecipeError,
    "asr.calculators:CalculatorSpecError",
    "asr.core.migration:MigrationError",
    MPILaunchError,
)


def outdated_dependencies(store: BaseStore, record: Record) -> list[str]:
    """Lines about dependencies that have a newer revision than the one used."""
    notes = []
    for dep in record.dependencies:
        head = store.get_ref(dep.uid)
        if head is not None and head != dep.revision:
            notes.append(
                f"dependency {dep.uid[:12]} has a newer revision {head[:12]} "
                f"(this record used {dep.revision[:12]})"
            )
    return notes


def record_renderer(store: BaseStore):
    def render(obj: StoredObject):
        if not Record.is_record(obj):
            return None
        record = Record.from_stored(obj)
        parts = [record]
        if store.get_ref(record.uid) not in (None, record.oid):
            parts.append(
                Text("this is not the newest revision of the record", "yellow")
            )
        parts += [Text(note, "yellow") for note in outdated_dependencies(store, record)]
        return Group(*parts)

    return render


def install(store: BaseStore) -> None:
    register_object_renderer(record_renderer(store))
