"""The local scheduler answers only its own user, and never unpickles.

MyQueue's stock server unpickles whatever reaches its TCP port on
127.0.0.1: any user of a shared login node could run code as the user
running the workflow. Ours listens on a Unix socket in a 0700 folder,
checks the peer's user id, and speaks JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
from pathlib import Path

import pytest

from asr.workflow import local

NOBODY = 65534


def address_of(home: Path) -> str:
    config = (home / ".myqueue" / "config.py").read_text()
    return config.split("use_server(socket=")[1].split(")")[0].strip("'")


def raw_request(address: str, data: bytes) -> dict:
    """Send `data` as a request, as any program could; the decoded reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(address)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    return json.loads(reply)


def queued_ids(home: Path) -> list[int]:
    """`list` through MyQueue's own client, as `mq` sends it."""
    from myqueue.config import Configuration
    from myqueue.schedulers.local import LocalScheduler

    return LocalScheduler(Configuration.read(home)).send("list")


class MakesAFolder:
    """A pickle that makes a folder when it is loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_pickled_request_runs_no_code_and_is_refused(mq):
    address = address_of(mq.home)
    marker = mq.home / "made-by-a-pickle"
    assert pickle.loads(pickle.dumps(MakesAFolder(marker))) is None  # it would
    os.rmdir(marker)

    reply = raw_request(address, pickle.dumps(("submit", MakesAFolder(marker))))
    assert reply["status"].startswith("refused")
    reply = raw_request(address, b"not json")
    assert reply["status"].startswith("refused")
    reply = raw_request(address, json.dumps({"command": "exec", "args": []}).encode())
    assert reply == {"status": "refused: unknown command 'exec'", "result": None}
    assert not marker.exists()
    assert queued_ids(mq.home) == []  # and it still serves its user


def listening_tcp_inodes() -> set[str]:
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def connect_as(uid: int, address: str, request: bytes) -> str:
    """Connect to `address` from a process of user `uid`: what happened."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: another user's client
        outcome = "?"
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(address)
                s.sendall(request)
                s.shutdown(socket.SHUT_WR)
                reply = b"".join(iter(lambda: s.recv(65536), b""))
            outcome = json.loads(reply)["status"]
        except PermissionError:
            outcome = "permission denied"
        except BaseException as err:
            outcome = f"{type(err).__name__}: {err}"
        finally:
            os.write(write, outcome.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        outcome = f.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_only_its_own_user_reaches_the_server(mq):
    address = address_of(mq.home)
    folder = Path(address).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert Path(address).stat().st_mode & 0o777 == 0o600
    pid = local.server_pid(mq.home)
    assert not socket_inodes(pid) & listening_tcp_inodes()  # no TCP port at all

    if os.geteuid() != 0:
        pytest.skip("another user's process needs root to make")
    stop = json.dumps({"command": "stop", "args": []}).encode()
    assert connect_as(NOBODY, address, stop) == "permission denied"
    # Were the folder opened to everyone by mistake, the user id is checked.
    folder.chmod(0o755)
    Path(address).chmod(0o666)
    assert connect_as(NOBODY, address, stop) == ("refused: another user's process")
    assert local.server_pid(mq.home) == pid
    assert queued_ids(mq.home) == []
