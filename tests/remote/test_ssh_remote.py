"""Clone, pull and push through a real ssh connection to a private sshd."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from asr.core import transfer
from asr.store import remote as remote_
from asr.store import ssh as ssh_
from asr.store.transfer import read_message, write_message

from .conftest import assert_clean, revise
from .project import add, heads, project
from .sshd import Sshd, available

pytestmark = pytest.mark.skipif(not available(), reason="needs openssh-server")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with Sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def over_ssh(sshd, monkeypatch):
    for key, value in sshd.environ().items():
        monkeypatch.setenv(key, value)
    return sshd


def test_clone_pull_push_over_ssh(over_ssh, tmp_path):
    a = project(tmp_path / "a", ["x", "y"])
    url = over_ssh.url(tmp_path / "a")
    b, report = transfer.clone(url, tmp_path / "b")
    assert heads(b) == heads(a) and report.objects == 6
    assert remote_.remotes(b) == {"origin": url}
    add(a, ["z"])
    assert transfer.pull(b, "origin", ["name=test.remote.use", "text=z"]).objects == 3
    assert heads(b) == heads(a)
    add(b, ["w"])
    revise(b, next(iter(heads(b))), "on b")
    report = transfer.push(b, "origin")
    assert report.objects == 4 and len(report.refs.created) == 2
    assert heads(a) == heads(b)
    assert_clean(a, b)


def test_divergence_over_ssh(over_ssh, tmp_path):
    a = project(tmp_path / "a", ["x"])
    b, _ = transfer.clone(over_ssh.url(tmp_path / "a"), tmp_path / "b")
    uid = next(iter(heads(a)))
    revise(a, uid, "on a")
    ours = revise(b, uid, "on b")
    assert transfer.push(b, "origin").refs.diverged == [uid]
    transfer.fetch(b, "origin")
    transfer.resolve(b, "origin", uid, "ours")
    assert transfer.push(b, "origin").refs.replaced == [uid]
    assert heads(a)[uid] == ours
    assert_clean(a, b)


def test_cli_clone_over_ssh(over_ssh, tmp_path):
    project(tmp_path / "a", ["x"])
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "clone", over_ssh.url(tmp_path / "a")],
        cwd=tmp_path / "..",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Cloned 2 Records (3 objects) into a" in done.stdout


def test_missing_remote_store_is_one_error_line(over_ssh, tmp_path):
    (tmp_path / "here").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "asr.cli.main", "clone", over_ssh.url(tmp_path / "no")],
        cwd=tmp_path / "here",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("Error: ") and "no ASR store" in lines[-1], done.stderr
    assert not (tmp_path / "here" / "no").exists()  # a failed clone leaves nothing


def test_a_remote_that_refuses_is_hung_up_on_and_reaped(
    over_ssh, tmp_path, monkeypatch
):
    """A connection whose first answer is an error (no store there) leaves
    no ssh process behind and no pipe open."""
    started = []

    class Spied(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(remote_.subprocess, "Popen", Spied)
    with pytest.raises(remote_.RemoteError, match="no ASR store"):
        remote_.connect(over_ssh.url(tmp_path / "no"))
    (process,) = [p for p in started if "remote serve" in " ".join(p.args)]
    assert process.returncode is not None  # waited for
    assert process.stdout.closed and process.stdin.closed


def master_pid(sshd) -> int | None:
    """The pid of the shared connection's ssh (`ssh -O check`), or None."""
    sockets = list(sshd.control.iterdir())
    if not sockets:
        return None
    (socket_path,) = sockets
    done = subprocess.run(
        ["ssh", "-o", f"ControlPath={socket_path}", "-O", "check", "x"],
        capture_output=True,
        text=True,
    )
    found = re.search(r"pid=(\d+)", done.stderr)
    return int(found[1]) if done.returncode == 0 and found else None


def test_fetches_share_one_ssh_login(over_ssh, tmp_path):
    over_ssh.close_connections()  # another test's
    a = project(tmp_path / "a", ["x"])
    before = over_ssh.logins()
    b, _ = transfer.clone(over_ssh.url(tmp_path / "a"), tmp_path / "b")
    add(a, ["y"])
    assert transfer.pull(b, "origin").objects == 3
    assert over_ssh.logins() == before + 1  # the pull went through the clone's
    pid = master_pid(over_ssh)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # its socket stays behind
    while master_pid(over_ssh) == pid:
        time.sleep(0.05)
    add(a, ["z"])
    assert transfer.pull(b, "origin").objects == 3  # logs in anew
    assert over_ssh.logins() == before + 2 and master_pid(over_ssh) is not None
    assert heads(b) == heads(a)
    assert_clean(a, b)


def test_sharing_connections_can_be_turned_off(over_ssh, tmp_path, monkeypatch):
    over_ssh.close_connections()
    monkeypatch.setenv("ASR_SSH_CONTROL", "no")
    project(tmp_path / "a", ["x"])
    before = over_ssh.logins()
    b, _ = transfer.clone(over_ssh.url(tmp_path / "a"), tmp_path / "b")
    transfer.pull(b, "origin")
    assert over_ssh.logins() == before + 2
    assert list(over_ssh.control.iterdir()) == []


F_GETPIPE_SZ = 1032  # linux/fcntl.h


@pytest.mark.skipif(not ssh_.has_aes(), reason="the CPU has no AES instructions")
def test_the_connection_is_encrypted_with_aes_gcm(over_ssh, tmp_path, monkeypatch):
    over_ssh.close_connections()
    monkeypatch.setenv("ASR_SSH_CONTROL", "no")
    command = ssh_.ssh_command(
        ssh_.SshUrl("127.0.0.1", "/", over_ssh.user, over_ssh.port)
    )
    command = [command[0], "-v", *command[1:-1], "true"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "server->client cipher: aes128-gcm@openssh.com" in done.stderr


def test_a_clones_pipes_hold_a_mebibyte(over_ssh, tmp_path):
    """Both ends widen the pipe a clone's gigabytes pass through: the
    remote's `asr remote serve` its stdout, the client its end of ssh's."""
    project(tmp_path / "a", ["x"])
    peer = remote_.connect(over_ssh.url(tmp_path / "a"))
    try:
        assert fcntl.fcntl(peer.inp.fileno(), F_GETPIPE_SZ) == 1 << 20
    finally:
        peer.close()
    serve = subprocess.Popen(
        [sys.executable, "-m", "asr.cli.main", "remote", "serve", str(tmp_path / "a")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        write_message(serve.stdin, {"op": "hello", "args": {}})
        serve.stdin.flush()
        assert read_message(serve.stdout) == {"value": {"format": 1}}
        assert fcntl.fcntl(serve.stdout.fileno(), F_GETPIPE_SZ) == 1 << 20
    finally:
        serve.stdin.close()
        serve.wait(30)
        serve.stdout.close()
