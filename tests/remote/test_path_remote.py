"""Remotes by path: clone, fetch, pull, push, divergences and their resolution."""

from __future__ import annotations

import pytest

from asr.core import transfer, use_store
from asr.store import init_store
from asr.store import remote as remote_

from .conftest import assert_clean, revise, run
from .project import add, heads, project, use


@pytest.fixture
def pair(tmp_path):
    a = project(tmp_path / "a", ["x", "y"])
    b, report = transfer.clone(str(tmp_path / "a"), tmp_path / "b")
    return a, b, report


def test_clone_copies_every_record(pair):
    a, b, report = pair
    assert heads(b) == heads(a)
    assert (report.heads, report.objects) == (4, 6)  # 4 Records and 2 blobs
    assert remote_.remotes(b) == {"origin": str(a.root.parent)}
    assert_clean(a, b)


def test_only_what_is_missing_travels(pair):
    a, b, _ = pair
    add(a, ["z"])  # two Records and a blob
    report = transfer.fetch(b, "origin")
    assert report.objects == 3
    assert len(heads(b)) == 4  # fetch moves no ref
    assert transfer.pull(b, "origin").objects == 0  # it has them all now
    assert heads(b) == heads(a)
    assert transfer.pull(b, "origin").refs.summary() == "6 same"


def test_push_sends_new_records_and_revisions(pair):
    a, b, _ = pair
    add(b, ["w"])
    uid = next(iter(heads(b)))
    revise(b, uid, "refined")
    report = transfer.push(b, "origin")
    assert report.objects == 4  # 2 Records, a blob, a revision
    assert len(report.refs.created) == 2 and report.refs.forwarded == [uid]
    assert heads(a) == heads(b)
    assert_clean(a, b)


def test_partial_pull_brings_dependencies(tmp_path):
    a = project(tmp_path / "a", ["x", "y"])
    b, report = transfer.clone(
        str(tmp_path / "a"), tmp_path / "b", ["name=test.remote.use", "text=y"]
    )
    assert report.heads == 2 and report.objects == 3
    from asr.core.cache import all_records

    got = sorted((r.name, r.arguments["text"]) for r in all_records(b))
    assert got == [("test.remote.make", "y"), ("test.remote.use", "y")]
    assert_clean(a, b)


def test_behind_is_left_and_forward_moves(pair):
    a, b, _ = pair
    uid = next(iter(heads(a)))
    new = revise(a, uid, "newer")
    outcome = transfer.pull(b, "origin").refs
    assert outcome.forwarded == [uid] and heads(b)[uid] == new
    newest = revise(b, uid, "newest")
    outcome = transfer.pull(b, "origin").refs
    assert outcome.behind == [uid] and heads(b)[uid] == newest


def _diverge(a, b):
    uid = next(iter(heads(a)))
    theirs, ours = revise(a, uid, "on a"), revise(b, uid, "on b")
    return uid, ours, theirs


def test_divergence_is_listed_never_resolved_silently(pair):
    a, b, _ = pair
    uid, ours, theirs = _diverge(a, b)
    assert transfer.pull(b, "origin").refs.diverged == [uid]
    assert heads(b)[uid] == ours
    pushed = transfer.push(b, "origin").refs
    assert pushed.diverged == [uid] and heads(a)[uid] == theirs
    (found,) = remote_.divergences(b, "origin")
    assert (found.uid, found.ours, found.theirs) == (uid, ours, theirs)


def test_resolve_theirs(pair):
    a, b, _ = pair
    uid, ours, theirs = _diverge(a, b)
    transfer.fetch(b, "origin")
    transfer.resolve(b, "origin", uid, "theirs")
    assert heads(b)[uid] == theirs and b.has(ours)
    assert remote_.divergences(b, "origin") == []


def test_resolve_ours_replaces_theirs_on_push(pair):
    a, b, _ = pair
    uid, ours, theirs = _diverge(a, b)
    transfer.fetch(b, "origin")
    transfer.resolve(b, "origin", uid, "ours")
    assert remote_.divergences(b, "origin") == []
    assert transfer.push(b, "origin").refs.replaced == [uid]
    assert heads(a)[uid] == ours and a.has(theirs)
    assert_clean(a, b)


def test_resolve_both_keeps_theirs_as_a_new_record(pair):
    a, b, _ = pair
    uid, ours, theirs = _diverge(a, b)
    transfer.fetch(b, "origin")
    new = transfer.resolve(b, "origin", uid, "both")
    assert heads(b)[uid] == ours
    copy = b.head(new)
    assert copy.parent == theirs and copy.payload == b.get(theirs).payload
    transfer.push(b, "origin")
    assert heads(a)[uid] == ours and new in heads(a)


def test_resolving_what_did_not_diverge_is_an_error(pair):
    a, b, _ = pair
    with pytest.raises(remote_.RemoteError, match="has not diverged"):
        transfer.resolve(b, "origin", next(iter(heads(b))), "ours")


def test_remote_commands(tmp_path, monkeypatch):
    a = project(tmp_path / "a", ["x"])
    monkeypatch.chdir(tmp_path)
    assert "Cloned 2 Records (3 objects) into b" in run("clone", "a", "b").output
    monkeypatch.chdir(tmp_path / "b")
    run("remote", "add", "other", "ssh://me@example.org:2222/home/me/p")
    listed = run("remote", "list").output
    assert f"origin\t{tmp_path / 'a'}" in listed
    assert "other\tssh://me@example.org:2222/home/me/p" in listed
    run("remote", "remove", "other")
    assert "other" not in run("remote", "list").output
    uid = next(iter(heads(a)))
    revise(a, uid, "on a")
    b = remote_.store_at(tmp_path / "b")
    revise(b, uid, "on b")
    assert "1 diverged" in run("fetch").output
    status = run("remote", "status").output
    assert uid[:12] in status and "1 diverged" in status
    run("remote", "resolve", "origin", uid[:8], "--theirs")
    assert "No divergences." in run("remote", "status").output
    assert "Records: 2 same" in run("pull").output
    assert "Records: 2 same" in run("push").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("remote", "add", "x", "http://host/p"), "unknown URL scheme"),
        (("remote", "add", "a/b", "/p"), "not a remote name"),
        (("fetch", "nowhere"), "no remote nowhere"),
        (("remote", "resolve", "origin", "abcd"), "--ours, --theirs or --both"),
    ],
)
def test_remote_errors(tmp_path, monkeypatch, args, message):
    init_store(tmp_path)
    result = run(*args, exit_code=1)
    assert result.output.startswith("Error: ") and message in result.output


def test_clone_of_no_store_is_an_error(tmp_path):
    with pytest.raises(remote_.RemoteError, match="no ASR store"):
        transfer.clone(str(tmp_path / "nothing"), tmp_path / "b")


def test_same_call_made_on_two_machines_is_kept_twice(tmp_path, monkeypatch):
    a = project(tmp_path / "a", ["x"])
    b = project(tmp_path / "b", ["x", "y"])  # the same calls, made independently
    remote_.add_remote(b, "a", str(tmp_path / "a"))
    assert len(transfer.pull(b, "a").refs.created) == 2
    assert len(heads(b)) == 6
    twice = transfer.duplicates(b)
    assert twice == set(heads(a)) | {
        u for u, o in heads(b).items() if b.get(o).payload["arguments"]["text"] == "x"
    }
    # The lookup is the same on every machine: the smallest uid.
    with use_store(b):
        found = use("x")
    same = [u for u in twice if b.head(u).payload["name"] == "test.remote.use"]
    assert found.uid == min(same)
    monkeypatch.chdir(tmp_path / "b")
    listed = run("cache", "ls", "--duplicates").output
    assert "4 records" in listed
    listed = run("cache", "ls", "--duplicates", "name=test.remote.use").output
    assert "2 records" in listed


def test_a_record_forgotten_here_comes_back_with_a_pull(pair):
    a, b, _ = pair
    uid = next(iter(heads(b)))
    b.delete_ref(uid)  # a tombstone: it would hide a packed ref
    assert uid not in heads(b)
    assert uid in transfer.pull(b, "origin").refs.created
    assert heads(b) == heads(a)
    assert_clean(b)
