"""`asr remote`, `asr clone/fetch/pull/push` and `asr bundle`: stores that travel."""

from __future__ import annotations

import sys

import click

from asr.store import remote as _remote
from asr.store.transfer import RefOutcome

from .common import console, open_store, short_id

# rich and asr.core (ase, the recipes) are imported only where needed: ssh
# starts `asr remote serve` anew for every fetch and push, and a pull
# without a selection moves ids and bytes only.


def _say(message: str) -> None:
    from rich.text import Text

    console().print(Text(message), soft_wrap=True, highlight=False)


def _showing_progress():
    """Bars on stderr (on a terminal only) while the store transfers."""
    from asr.store.progress import reporting

    from .common import progress_bar

    return reporting(progress_bar)


def _report_refs(outcome: RefOutcome, remote: str, pushing: bool = False) -> None:
    _say(f"Records: {outcome.summary()}")
    if outcome.diverged:
        where = f"{remote} (fetch, then resolve)" if pushing else remote
        _say(
            f"{len(outcome.diverged)} diverged from {where}: "
            f"see `asr remote status {remote}`"
        )
    if outcome.conflicts:
        _say(f"{len(outcome.conflicts)} moved meanwhile: run it again")


@click.group()
def remote() -> None:
    """Other stores by path or ssh://[user@]host[:port]/path."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
def add(name: str, url: str) -> None:
    """Add a remote: `asr remote add cluster ssh://me@cluster/home/me/project`."""
    _remote.add_remote(open_store(), name, url)


@remote.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget a remote (no Record is removed)."""
    _remote.remove_remote(open_store(), name)


@remote.command("list")
def list_remotes() -> None:
    """Every remote and its URL."""
    for name, url in _remote.remotes(open_store()).items():
        click.echo(f"{name}\t{url}")


@remote.command("status")
@click.argument("name", default="origin")
def status(name: str) -> None:
    """Records that diverged from NAME at its last fetch (resolve each with
    `asr remote resolve NAME UID --ours/--theirs/--both`)."""
    store = open_store()
    state = _remote.load_state(store, name)
    found = _remote.divergences(store, name)
    _say(f"{name}: {len(_remote.remote_heads(store, name))} Records at the last fetch")
    if state.leases:
        _say(f"{len(state.leases)} resolved as ours: the next push replaces theirs")
    if not found:
        _say("No divergences.")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("uid", "ours", "theirs", box=None)
    for div in found:
        ids = (div.uid, div.ours, div.theirs)
        table.add_row(*(Text(short_id(i)) for i in ids))
    console().print(table)
    _say(f"{len(found)} diverged")


@remote.command("resolve")
@click.argument("name")
@click.argument("uids", nargs=-1, required=True)
@click.option("--ours", "keep", flag_value="ours", help="Keep our revision.")
@click.option("--theirs", "keep", flag_value="theirs", help="Take theirs.")
@click.option("--both", "keep", flag_value="both", help="Keep theirs as a new Record.")
def resolve(name: str, uids: tuple[str, ...], keep: str | None) -> None:
    """Settle divergences with NAME: --ours, --theirs or --both."""
    from asr.core.transfer import resolve as _resolve

    if keep is None:
        raise click.UsageError("say which to keep: --ours, --theirs or --both")
    store = open_store()
    for uid in uids:
        new = _resolve(store, name, uid, keep)
        extra = f" (theirs is now {new})" if new else ""
        _say(f"{uid}: kept {keep}{extra}")


@remote.command("serve", hidden=True)
@click.argument("path")
def serve(path: str) -> None:
    """Answer a peer on stdin/stdout (what ssh runs on the other side)."""
    _remote.serve_path(path, sys.stdin.buffer, sys.stdout.buffer, _select_heads)


def _select_heads(store, words):
    # Imported only for a selection (see above).
    from asr.core.transfer import select_heads

    return select_heads(store, words)


@click.command()
@click.argument("url")
@click.argument("folder", required=False)
@click.argument("selection", nargs=-1)
def clone(url: str, folder: str | None, selection: tuple[str, ...]) -> None:
    """Make a store in FOLDER from the store at URL (a path or ssh://...),
    optionally only the Records of SELECTION and what they depend on."""
    from pathlib import PurePosixPath

    from asr.core.transfer import clone as _clone

    if folder is None:
        where = _remote.parse_url(url)
        folder = PurePosixPath(getattr(where, "path", str(where))).name or "store"
    with _showing_progress():
        store, report = _clone(url, folder, selection)
    _say(f"Cloned {report.heads} Records ({report.objects} objects) into {folder}")


def _transfer_command(name: str, doc: str):
    @click.command(name, help=doc)
    @click.argument("remote", default="origin")
    @click.argument("selection", nargs=-1)
    def command(remote: str, selection: tuple[str, ...]) -> None:
        # As asr.core.transfer's fetch, pull and push do, with the selection
        # code imported only if there is a selection.
        store, words = open_store(), list(selection)
        with _showing_progress():
            if name == "push":
                report = _remote.push(store, remote, words, _select_heads)
            else:
                pulling = name == "pull"
                report = _remote.fetch(store, remote, words, pulling, _select_heads)
        verb = "Sent" if name == "push" else "Received"
        _say(f"{verb} {report.objects} objects; {report.heads} Records selected")
        if name != "fetch":
            _report_refs(report.refs, remote, pushing=name == "push")
        else:
            found = _remote.divergences(open_store(), remote)
            if found:
                _say(f"{len(found)} diverged: see `asr remote status {remote}`")

    return command


fetch = _transfer_command(
    "fetch",
    "Bring REMOTE's (selected) Records' objects here; your refs do not move.",
)
pull = _transfer_command(
    "pull",
    "Fetch, then take new Records and newer revisions (fast-forward only).",
)
push = _transfer_command(
    "push",
    "Send your (selected) Records to REMOTE; it takes what loses nothing there.",
)


@click.group()
def bundle() -> None:
    """Records in one file, for machines with no route between them."""


@bundle.command("create")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("selection", nargs=-1)
def create(file: str, selection: tuple[str, ...]) -> None:
    """Write the (selected) Records and all they depend on into FILE."""
    from asr.core.transfer import bundle_create

    with _showing_progress():
        records, objects = bundle_create(open_store(), file, selection)
    _say(f"Bundled {records} Records ({objects} objects) into {file}")


@bundle.command("unbundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default="bundle", help="Remember its heads as this remote.")
def unbundle(file: str, name: str) -> None:
    """Verify FILE, store its objects, then take its Records as `pull` does."""
    from asr.core.transfer import unbundle as _unbundle

    with _showing_progress():
        count, outcome = _unbundle(open_store(), file, name)
    _say(f"Received {count} objects")
    _report_refs(outcome, name)
