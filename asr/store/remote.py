"""Remotes: other stores by path or over ssh, and fetch/push between them.

A remote is a name and a URL (`.asr/remotes/<name>/url`): a path, or
``ssh://[user@]host[:port]/path``. Over ssh, `asr remote serve PATH` runs on
the other side and answers requests on stdin/stdout (as `git-upload-pack`
does; no daemon). A path is opened in this process. Either way the same
requests happen: `heads`, `references`, `lacks`, `objects`, `receive`,
`apply` (see `transfer.Endpoint` and docs/store.md).

What a fetch saw is kept in `.asr/remotes/<name>/state`: the remote's heads
(as Git's remote-tracking refs) and the divergences the user resolved in
favour of ours (a lease: the head we expect to replace on the next push).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import codec, mirror, progress
from .disk import STORE_DIR, DiskStore
from .errors import StoreError
from .files import widen_pipe, write_atomic
from .ids import ObjectId, Uid
from .remoterefs import CACHE, RefCache, heads_of, ref_listing
from .ssh import SshUrl, ssh_command
from .transfer import (
    Endpoint,
    Heads,
    RefOutcome,
    TransferError,
    missing_closure,
    read_message,
    read_objects,
    relation,
    write_message,
    write_objects,
)

REMOTES = "remotes"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_SSH = re.compile(
    r"^ssh://(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+)(?::(?P<port>\d+))?(?P<path>/.*)$"
)


class RemoteError(StoreError):
    """A remote that does not exist, or a URL that cannot be reached."""


# -- configuration -----------------------------------------------------------


@dataclass
class RemoteState:
    """What this store knows of a remote: its heads at the last fetch and
    the divergences resolved as ours (uid -> their head to replace)."""

    heads: Heads = field(default_factory=dict)  # beside the tables (see below)
    leases: Heads = field(default_factory=dict)
    # The remote's packed-refs tables (kept in remotes/<name>/refs/) whose
    # rows a fetch has brought, and those a pull has applied.
    fetched: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)


def _folder(store: DiskStore, name: str) -> Path:
    if not _NAME.match(name):
        raise RemoteError(f"not a remote name: {name!r} (letters, digits, . _ -)")
    return store.root / REMOTES / name


def add_remote(store: DiskStore, name: str, url: str) -> None:
    parse_url(url)
    folder = _folder(store, name)
    if (folder / "url").exists():
        raise RemoteError(f"remote {name} exists already")
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "url", url.encode() + b"\n")


def remove_remote(store: DiskStore, name: str) -> None:
    folder = _folder(store, name)
    if not (folder / "url").exists():
        raise RemoteError(f"no remote {name}")
    shutil.rmtree(folder)


def remotes(store: DiskStore) -> dict[str, str]:
    """name -> URL of every remote."""
    folder = store.root / REMOTES
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.iterdir()):
        url = path / "url"
        if url.is_file():
            found[path.name] = url.read_text().strip()
    return found


def remote_url(store: DiskStore, name: str) -> str:
    try:
        return (_folder(store, name) / "url").read_text().strip()
    except FileNotFoundError:
        known = ", ".join(remotes(store)) or "none; add one with asr remote add"
        raise RemoteError(f"no remote {name} (remotes: {known})") from None


def load_state(store: DiskStore, name: str) -> RemoteState:
    try:
        data = codec.decode((_folder(store, name) / "state").read_bytes())
    except FileNotFoundError:
        return RemoteState()
    # Plain hex strings (equal to ids, and as cheap as can be at 10^5 refs).
    return RemoteState(
        data["heads"], data["leases"], data.get("fetched", []), data.get("applied", [])
    )


def save_state(store: DiskStore, name: str, state: RemoteState) -> None:
    data = {
        "heads": {str(u): str(o) for u, o in state.heads.items()},
        "leases": {str(u): str(o) for u, o in state.leases.items()},
        "fetched": list(state.fetched),
        "applied": list(state.applied),
    }
    folder = _folder(store, name)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "state", codec.encode(data))


def remote_heads(store: DiskStore, name: str) -> Heads:
    """The remote's heads at the last fetch: its tables, then the refs
    beside them (and any a push or a selection brought since)."""
    cache = _refcache(store, name)
    heads = cache.heads(cache.names())
    heads.update(load_state(store, name).heads)
    return heads


@dataclass(frozen=True)
class Divergence:
    """A Record both sides advanced: neither head's chain holds the other."""

    uid: Uid
    ours: ObjectId
    theirs: ObjectId


def divergences(store: DiskStore, name: str) -> list[Divergence]:
    """The Records whose head here and at the remote's last fetch diverged
    and that no resolution covers."""
    state = load_state(store, name)
    found = []
    for uid, theirs in sorted(remote_heads(store, name).items()):
        ours = store.get_ref(uid)
        if ours is None or state.leases.get(uid) == theirs:
            continue
        if store.has(theirs) and relation(store, ours, theirs) == "diverged":
            found.append(Divergence(uid, ours, theirs))
    return found


# -- URLs and peers ----------------------------------------------------------


def parse_url(url: str) -> Path | SshUrl:
    if url.startswith("ssh://"):
        found = _SSH.match(url)
        if found is None:
            raise RemoteError(f"not an ssh URL: {url} (ssh://[user@]host[:port]/path)")
        port = found["port"]
        return SshUrl(found["host"], found["path"], found["user"], port and int(port))
    if "://" in url:
        raise RemoteError(f"unknown URL scheme: {url} (a path or ssh://)")
    return Path(url).expanduser()


def store_at(path: str | os.PathLike) -> DiskStore:
    """The store of exactly this folder (or this `.asr/` folder): a remote's
    path is not searched upwards, so a mistyped one finds nothing."""
    path = Path(path).expanduser()
    for root in (path / STORE_DIR, path):
        if (root / "format").is_file():
            return DiskStore(root)
    raise RemoteError(f"no ASR store at {path}")


class LocalPeer:
    """A store in a folder of this machine, opened in this process."""

    def __init__(self, path: Path, select: Callable | None = None):
        self.endpoint = Endpoint(store_at(path), select)

    def call(self, op: str, **args) -> Any:
        return answer(self.endpoint, op, args)

    def objects(self, ids: list[ObjectId]) -> Iterator[bytes]:
        return self.endpoint.objects(ids)

    def send(self, objects: Iterable[bytes], count: int) -> int:
        return self.endpoint.receive(objects)

    def mirror(self, store: DiskStore, have: list[str]) -> mirror.Mirrored:
        return mirror.receive_mirror(
            store, mirror.LocalSource(self.endpoint.mirror(have))
        )

    def close(self) -> None:
        self.endpoint.store.close()


class PipePeer:
    """A store reached through a command that runs `asr remote serve` (ssh)."""

    def __init__(self, command: list[str]):
        self.command = command
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.inp, self.out = self.process.stdout, self.process.stdin
        widen_pipe(self.inp.fileno())  # a clone's gigabytes come in here
        widen_pipe(self.out.fileno())  # and a push's go out here
        try:
            self.call("hello")
        except BaseException:  # no store there, no asr there: hang up, reap
            self.close()
            raise

    def _request(self, message: dict) -> None:
        try:
            write_message(self.out, plain(message))
            self.out.flush()
        except (BrokenPipeError, ConnectionError):
            raise TransferError(self._gone()) from None

    def _answer(self) -> Any:
        try:
            answer = read_message(self.inp)
        except TransferError:
            raise TransferError(self._gone()) from None
        if isinstance(answer, dict) and "error" in answer:
            raise RemoteError(f"the remote says: {answer['error']}")
        return answer["value"]

    def _gone(self) -> str:
        code = self.process.poll()
        what = " ".join(self.command[:3])
        return f"the remote ({what} ...) stopped" + (
            f" with exit code {code}" if code is not None else ""
        )

    def call(self, op: str, **args) -> Any:
        self._request({"op": op, "args": args})
        return self._answer()

    def objects(self, ids: list[ObjectId]) -> Iterator[bytes]:
        self._request({"op": "objects", "args": {"ids": ids}})
        try:
            yield from read_objects(self.inp)
        except TransferError as err:
            raise TransferError(f"{err}; {self._gone()}") from None
        self._answer()

    def mirror(self, store: DiskStore, have: list[str]) -> mirror.Mirrored:
        self._request({"op": "mirror", "args": {"have": have, "raw": True}})
        try:
            done = mirror.receive_mirror(store, mirror.WireSource(self.inp))
        except TransferError as err:
            raise TransferError(f"{err}; {self._gone()}") from None
        self._answer()
        return done

    def send(self, objects: Iterable[bytes], count: int) -> int:
        self._request({"op": "receive", "args": {}})
        try:
            write_objects(self.out, objects, count)
            self.out.flush()
        except (BrokenPipeError, ConnectionError):
            raise TransferError(self._gone()) from None
        return self._answer()

    def close(self) -> None:
        """Say bye and hang up both ways: a remote still writing a stream
        this side stopped reading (it was damaged) then stops too."""
        with contextlib.suppress(TransferError, OSError):
            self._request({"op": "bye", "args": {}})
        with contextlib.suppress(OSError):  # a broken pipe as it flushes
            self.out.close()
        self.inp.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def plain(value: Any) -> Any:
    """`value` with every map key a plain `str` (ids are not map keys)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def connect(url: str, select: Callable | None = None) -> LocalPeer | PipePeer:
    where = parse_url(url)
    if isinstance(where, SshUrl):
        return PipePeer(ssh_command(where))
    return LocalPeer(where, select)


def answer(endpoint: Endpoint, op: str, args: dict) -> Any:
    """The answer to one request that is not a stream."""
    if op in ("heads", "references", "lacks"):
        return getattr(endpoint, op)(**args)
    if op == "refs":
        return ref_listing(endpoint.store, list(args["known"]))
    if op == "apply":
        return endpoint.apply(args["heads"], args["leases"]).to_data()
    raise RemoteError(f"unknown request {op!r}")


def serve_path(path: str, inp, out, select: Callable | None = None) -> None:
    """`serve` the store at `path`; if there is none, say so in answer to
    the first request (one line for the user on the other side)."""
    with contextlib.suppress(OSError):  # not a file (a test's BytesIO)
        widen_pipe(out.fileno())  # a clone's gigabytes go out here
        widen_pipe(inp.fileno())  # and a push's come in here
    try:
        store = store_at(path)
    except StoreError as err:
        try:
            read_message(inp)
            write_message(out, {"error": str(err)})
            out.flush()
        except TransferError:
            pass
        return
    try:
        serve(store, inp, out, select)
    finally:
        store.close()


def serve(store: DiskStore, inp, out, select: Callable | None = None) -> None:
    """Answer one peer's requests on `inp`/`out` until it says bye or goes.

    A request is ``{"op", "args"}``; an answer ``{"value"}`` or
    ``{"error"}``. `objects` answers with a pack stream first, `receive`
    reads one first.
    """
    try:
        _serve(Endpoint(store, select), inp, out)
    except (BrokenPipeError, ConnectionError):
        # The peer hung up while we wrote (it found the stream damaged, or
        # was killed): nothing half-done is visible. Output still buffered
        # goes nowhere rather than into a traceback at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, out.fileno())
        os.close(devnull)


def _serve(endpoint: Endpoint, inp, out) -> None:
    while True:
        try:
            request = read_message(inp)
        except TransferError:
            return  # the peer went away: nothing half-done is visible
        op, args = request["op"], request["args"]
        try:
            if op == "bye":
                return
            if op == "hello":
                value: Any = {"format": 1}
            elif op == "objects":
                ids = [ObjectId(o) for o in args["ids"]]
                write_objects(out, endpoint.objects(ids), len(ids))
                value = None
            elif op == "mirror":
                raw = bool(args.get("raw"))  # an older asr asks for frames
                mirror.write_mirror(out, endpoint.mirror(list(args["have"]), raw))
                value = None
            elif op == "receive":
                value = endpoint.receive(read_objects(inp))
            else:
                value = answer(endpoint, op, args)
        except TransferError:
            raise  # the stream is out of step: stop
        except StoreError as err:
            write_message(out, {"error": str(err)})
        else:
            write_message(out, {"value": plain(value)})
        out.flush()


# -- fetch and push ----------------------------------------------------------


@dataclass
class Report:
    """What a fetch or push did."""

    objects: int = 0
    heads: int = 0
    refs: RefOutcome = field(default_factory=RefOutcome)


def fetch(
    store: DiskStore,
    name: str,
    selection: list[str] | None = None,
    apply: bool = True,
    select: Callable | None = None,
) -> Report:
    """Bring the remote's selected Records here (only what is missing).

    The objects are verified and stored, the remote's heads remembered;
    with `apply`, refs are created and fast-forwarded (`apply_heads`).
    Without a selection, only the heads that changed since the last fetch
    are compared (`remoterefs`), and a store without refs first receives
    the remote's packs whole (`mirror`).
    """
    state = load_state(store, name)
    peer = connect(remote_url(store, name), select)
    local = Endpoint(store)
    try:
        if selection:
            listed = _Listed.selected(peer, selection)
        else:
            listed = _Listed.whole(store, peer, state, apply, _refcache(store, name))
        ours = heads_of(store, listed.heads)
        changed = {u: o for u, o in listed.heads.items() if ours[u] != o}
        ids = missing_closure(
            changed.values(),
            lambda ids: _edges(peer.call("references", ids=ids)),
            local.lacks,
        )
        count = listed.mirrored
        if ids:
            objects = peer.objects(ids)
            with progress.counting(objects, "Receiving objects", len(ids)) as each:
                count += local.receive(each)
    finally:
        peer.close()
    listed.remember(state, applied=False)
    save_state(store, name, state)
    report = Report(count, listed.count)
    if apply:
        report.refs = local.apply(changed, {})
        report.refs.same += [u for u in listed.heads if u not in changed]
        if not report.refs.conflicts:  # a conflict is compared again next time
            listed.remember(state, applied=True)
            save_state(store, name, state)
    return report


@dataclass
class _Listed:
    """The remote's heads a fetch compares with ours, and what to remember."""

    heads: Heads
    count: int
    mirrored: int = 0
    tables: list[str] | None = None  # the remote's packed-refs tables
    rest: Heads = field(default_factory=dict)

    @classmethod
    def selected(cls, peer, selection: list[str]) -> _Listed:
        found = peer.call("heads", selection=selection)
        heads = {Uid(u): ObjectId(o) for u, o in found.items()}
        return cls(heads, len(heads))

    @classmethod
    def whole(cls, store, peer, state, apply: bool, cache) -> _Listed:
        mirrored = 0
        if next(iter(store.iter_refs()), None) is None:
            got = _mirror(store, peer)
            mirrored = got.objects
            for table in got.refs:  # the remote's, now ours too: all applied
                cache.add(table, (store.refs_dir / "packed" / table).read_bytes())
            state.fetched = sorted({*state.fetched, *got.refs})
            state.applied = sorted({*state.applied, *got.refs})
        try:
            listing = peer.call("refs", known=cache.names())
        except RemoteError as err:  # an older asr there: every head, as before
            if "unknown request" not in str(err):
                raise
            found = cls.selected(peer, None)
            found.mirrored = mirrored
            return found
        for table, data in listing["data"].items():
            cache.add(table, data)
        names = listing["tables"]
        rest = {Uid(u): o and ObjectId(o) for u, o in listing["rest"].items()}
        seen = state.applied if apply else state.fetched
        heads = cache.news(names, seen, rest)
        cache.keep_only(names)
        return cls(heads, cache.count(names, rest), mirrored, names, rest)

    def remember(self, state: RemoteState, applied: bool) -> None:
        if self.tables is None:  # a selection: these heads only
            state.heads.update(self.heads)
        elif applied:
            state.applied = list(self.tables)
        else:
            state.fetched = list(self.tables)
            state.heads = {u: o for u, o in self.rest.items() if o is not None}


def _refcache(store: DiskStore, name: str) -> RefCache:
    return RefCache(_folder(store, name) / CACHE)


def push(
    store: DiskStore,
    name: str,
    selection: list[str] | None = None,
    select: Callable | None = None,
) -> Report:
    """Send the selected Records to the remote; its refs move where that
    loses nothing there, or where a divergence was resolved as ours."""
    local = Endpoint(store, select)
    heads = local.heads(selection or None)
    state = load_state(store, name)
    peer = connect(remote_url(store, name), None)
    try:
        theirs = {
            Uid(u): ObjectId(o) for u, o in peer.call("heads", uids=list(heads)).items()
        }
        changed = {u: o for u, o in heads.items() if theirs.get(u) != o}
        ids = missing_closure(
            changed.values(),
            local.references,
            lambda ids: [ObjectId(o) for o in peer.call("lacks", ids=ids)],
        )
        count = 0
        if ids:
            objects = local.objects(ids)
            with progress.counting(objects, "Sending objects", len(ids)) as each:
                count = peer.send(each, len(ids))
        leases = {u: o for u, o in state.leases.items() if u in changed}
        outcome = RefOutcome.from_data(peer.call("apply", heads=changed, leases=leases))
        after = {
            Uid(u): ObjectId(o) for u, o in peer.call("heads", uids=list(heads)).items()
        }
    finally:
        peer.close()
    state.heads.update(after)
    for uid in outcome.replaced:
        state.leases.pop(uid, None)
    save_state(store, name, state)
    outcome.same += [u for u in heads if u not in changed]
    return Report(count, len(heads), outcome)


def _mirror(store: DiskStore, peer) -> mirror.Mirrored:
    """Copy the remote's packs and tables whole into a store without refs
    (a clone, or the rerun of a killed one). A remote that does not know
    the request is left to the negotiation."""
    have = mirror.listing(store).packs
    try:
        return peer.mirror(store, have)
    except RemoteError as err:
        if "unknown request" in str(err):
            return mirror.Mirrored()
        raise


def _edges(found: dict) -> dict[ObjectId, list[ObjectId]]:
    return {ObjectId(k): [ObjectId(i) for i in v] for k, v in found.items()}
