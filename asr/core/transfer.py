"""Records between stores: which heads a selection means, and the API.

`asr.store.transfer` and `asr.store.remote` move bytes and ids; this module
adds what only Records know: a selection (`name=asr.gs folder=tree/MoS2`, as
`asr cache ls` takes it) brings the selected Records and, transitively, the
Records they depend on, each at its newest revision::

    from asr.core import transfer
    transfer.clone("ssh://cluster/home/me/project", "project")
    transfer.pull(store, "origin", ["name=asr.gs"])
    transfer.push(store, "origin")
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from asr.store import BaseStore, DiskStore, ObjectId, Uid, init_store
from asr.store import remote as _remote
from asr.store import transfer as _transfer

from .cache import selected
from .record import Record
from .selection import parse_selection, select

Report = _remote.Report


def select_heads(store: BaseStore, words: Sequence[str]) -> dict[Uid, ObjectId]:
    """Heads of the Records `words` select and of all they depend on."""
    criteria = parse_selection(words)
    chosen = select(selected(store, criteria), criteria)
    heads: dict[Uid, ObjectId] = {}
    stack = [(r.uid, r.oid) for r in chosen]
    while stack:
        uid, oid = stack.pop()
        if uid in heads or oid is None:
            continue
        heads[Uid(uid)] = ObjectId(oid)
        obj = store.get(oid)
        if Record.is_record(obj):
            for dep in Record.from_stored(obj).dependencies:
                head = store.get_ref(dep.uid)
                if head is not None and dep.uid not in heads:
                    stack.append((dep.uid, head))
    return heads


def duplicates(store: BaseStore) -> set[Uid]:
    """Records whose head has the exact index key of another Record's head:
    the same call made on two machines, both kept after a pull. A lookup
    takes the one with the smallest uid (`BaseStore.find` sorts by uid)."""
    by_key: dict[bytes, list[Uid]] = {}
    for uid, obj in store.heads():
        terms = obj.index
        if terms is not None:
            by_key.setdefault(terms.exact, []).append(uid)
    return {u for uids in by_key.values() if len(uids) > 1 for u in uids}


def fetch(store: DiskStore, remote: str = "origin", selection: Sequence[str] = ()):
    """Bring the remote's (selected) Records' objects here and remember its
    heads; your refs do not move (see `pull`)."""
    return _remote.fetch(store, remote, list(selection), False, select_heads)


def pull(store: DiskStore, remote: str = "origin", selection: Sequence[str] = ()):
    """`fetch`, then create new Records' refs and fast-forward the others;
    divergences are left for `divergences` and `resolve`."""
    return _remote.fetch(store, remote, list(selection), True, select_heads)


def push(store: DiskStore, remote: str = "origin", selection: Sequence[str] = ()):
    """Send the (selected) Records to the remote; see `asr.store.remote.push`."""
    return _remote.push(store, remote, list(selection), select_heads)


def clone(
    url: str, folder: str | os.PathLike, selection: Sequence[str] = ()
) -> tuple[DiskStore, Report]:
    """A new store in `folder` with the remote `origin` at `url`, pulled."""
    folder = Path(folder)
    if (folder / ".asr").exists():
        raise _remote.RemoteError(f"{folder} has a store already")
    _remote.parse_url(url)
    if not url.startswith("ssh://"):
        url = str(Path(url).expanduser().resolve())
    made = not folder.exists()
    store = init_store(folder)
    try:
        _remote.add_remote(store, "origin", url)
        return store, pull(store, "origin", selection)
    except BaseException:  # a clone that failed leaves nothing behind
        store.close()
        shutil.rmtree(store.root, ignore_errors=True)
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def resolve(store: DiskStore, remote: str, uid: str, keep: str) -> Uid | None:
    """Settle one divergence with `remote`: keep "ours", "theirs" or "both".

    theirs: our ref moves to their head (ours stays in the store).
    ours: ours stays; the next push replaces their head by compare-and-swap.
    both: ours stays and theirs is kept as a new Record (returned uid) whose
    parent is their head; the next push replaces their head as for ours.
    """
    found = {d.uid: d for d in _remote.divergences(store, remote)}
    uid = store.resolve(uid) if len(uid) < 32 else Uid(uid)
    if uid not in found:
        raise _remote.RemoteError(f"{uid} has not diverged from {remote}")
    div = found[uid]
    state = _remote.load_state(store, remote)
    new = None
    if keep == "theirs":
        store.set_ref(uid, div.theirs, div.ours)
    elif keep in ("ours", "both"):
        if keep == "both":
            new = _transfer.keep_both(store, uid, div.theirs)
        state.leases[uid] = div.theirs
        _remote.save_state(store, remote, state)
    else:
        raise ValueError(f"keep ours, theirs or both, not {keep!r}")
    return new


def bundle_create(
    store: DiskStore, path: str | os.PathLike, selection: Sequence[str] = ()
) -> tuple[int, int]:
    """Write the (selected) Records with everything they reach into one
    file; returns (Records, objects)."""
    heads = select_heads(store, selection) if selection else dict(store.iter_refs())
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        count = _transfer.write_bundle(store, out, heads)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return len(heads), count


def unbundle(
    store: DiskStore, path: str | os.PathLike, name: str = "bundle"
) -> tuple[int, _transfer.RefOutcome]:
    """Verify and store a bundle's objects, then move refs as `pull` does.
    Its heads are remembered as those of a remote called `name`, so
    divergences are listed and resolved as for a remote."""
    with open(path, "rb") as inp:
        heads, count = _transfer.read_bundle(store, inp)
    state = _remote.load_state(store, name)
    state.heads.update(heads)
    _remote.save_state(store, name, state)
    return count, _transfer.apply_heads(store, heads)
