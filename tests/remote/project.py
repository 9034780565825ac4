"""Small Records with a File blob and a dependency, for transfer tests."""

from __future__ import annotations

from pathlib import Path

from asr.core import File, instruction, use_store
from asr.store import DiskStore, init_store


@instruction("test.remote.make")
def make(text: str):
    Path("out.txt").write_text(text)
    return {"file": File("out.txt"), "n": len(text)}


@instruction("test.remote.use")
def use(text: str):
    made = make(text).result["file"]
    return made.path.read_text().upper()


def project(folder: Path, texts=("a", "b")) -> DiskStore:
    """A store in `folder` with `use(text)` (and so `make(text)`) per text."""
    folder.mkdir(parents=True, exist_ok=True)
    store = init_store(folder)
    add(store, texts)
    return store


def add(store: DiskStore, texts) -> list:
    with use_store(store):
        return [use(text) for text in texts]


def heads(store: DiskStore) -> dict:
    store.refresh()
    return dict(store.iter_refs())
