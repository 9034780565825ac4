"""Where ssh keeps the connections fetches share, and when it does not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from asr.store import ssh
from asr.store.ssh import SshUrl, control_folder, ssh_command

needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs ssh")
URL = SshUrl("cluster", "/home/me/project", "me")


@pytest.fixture
def short():
    """A folder with a short path (pytest's are too long for sockets)."""
    folder = Path(tempfile.mkdtemp(prefix="asr-t-"))
    yield folder
    shutil.rmtree(folder)


def options(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, word in enumerate(command) if word == "-o"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_a_private_runtime_folder_by_default(short, monkeypatch):
    monkeypatch.delenv("ASR_SSH_CONTROL", raising=False)
    monkeypatch.delenv("ASR_SSH_COMMAND", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short))
    (short / "asr-ssh").mkdir(mode=0o755)  # too open: made private
    command = ssh_command(URL)
    assert command[0] == "ssh" and command[-2:] == ["me@cluster", command[-1]]
    found = options(command)
    assert found["ControlMaster"] == "auto" and found["ControlPersist"] == "60s"
    assert found["ControlPath"] == f"{short}/asr-ssh/%C"
    assert stat.S_IMODE(os.stat(short / "asr-ssh").st_mode) == 0o700


def test_a_folder_whose_socket_paths_are_too_long_is_passed_over(tmp_path, monkeypatch):
    monkeypatch.delenv("ASR_SSH_CONTROL", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("x" * 60)))
    monkeypatch.setenv("HOME", str(tmp_path / ("y" * 60)))
    folder = control_folder()
    assert folder is not None and "xxx" not in str(folder) and "yyy" not in str(folder)
    assert len(f"{folder}/{'0' * 40}.{'0' * 16}") <= 103


def test_turned_off_or_said_by_the_users_own_ssh_command(short, monkeypatch):
    monkeypatch.setenv("ASR_SSH_CONTROL", "no")
    assert "ControlMaster" not in options(ssh_command(URL))
    monkeypatch.setenv("ASR_SSH_CONTROL", str(short / "mine"))
    assert options(ssh_command(URL))["ControlPath"] == f"{short}/mine/%C"
    monkeypatch.setenv("ASR_SSH_COMMAND", "ssh -o ControlPath=/theirs/%C -i key")
    monkeypatch.setattr(ssh, "has_aes", lambda: False)  # ciphers: below
    command = ssh_command(URL)
    assert options(command) == {"ControlPath": "/theirs/%C", "BatchMode": "yes"}
    assert command[:5] == ["ssh", "-o", "ControlPath=/theirs/%C", "-i", "key"]


def default_ciphers() -> list[str]:
    found = subprocess.run(
        ["ssh", "-F", os.devnull, "-G", "cluster"], capture_output=True, text=True
    )
    line = next(x for x in found.stdout.splitlines() if x.startswith("ciphers "))
    return line.split()[1].split(",")


@needs_ssh
def test_aes_gcm_is_moved_first_where_the_cpu_has_aes(monkeypatch):
    monkeypatch.setenv("ASR_SSH_COMMAND", f"ssh -F {os.devnull}")
    monkeypatch.setattr(ssh, "has_aes", lambda: True)
    ours = options(ssh_command(URL))["Ciphers"].split(",")
    assert ours[:2] == list(ssh.FAST_CIPHERS)
    assert sorted(ours) == sorted(default_ciphers())  # moved, none added
    monkeypatch.setattr(ssh, "has_aes", lambda: False)
    assert "Ciphers" not in options(ssh_command(URL))


@needs_ssh
def test_the_users_own_ciphers_win(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh, "has_aes", lambda: True)
    monkeypatch.setenv("ASR_SSH_COMMAND", "ssh -c chacha20-poly1305@openssh.com")
    assert "Ciphers" not in options(ssh_command(URL))
    config = tmp_path / "config"  # as a site's crypto policy says them
    config.write_text("Host *\n  Ciphers aes256-ctr,chacha20-poly1305@openssh.com\n")
    monkeypatch.setenv("ASR_SSH_COMMAND", f"ssh -F {config}")
    assert "Ciphers" not in options(ssh_command(URL))
