"""How asr reaches a store over ssh: the command, its shared connection
and the cipher it prefers.

The user's ssh command (`ASR_SSH_COMMAND`, as Git's GIT_SSH_COMMAND) and
ssh configuration always win: asr adds an option only where they say
nothing of it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The command that runs asr on the other side of an ssh connection.
REMOTE_ASR = "ASR_REMOTE_ASR"
#: The ssh client and its options (as GIT_SSH_COMMAND).
SSH_COMMAND = "ASR_SSH_COMMAND"
#: Where ssh keeps the connections it shares between fetches (its
#: ControlPath folder); "no" to log in anew every time.
SSH_CONTROL = "ASR_SSH_CONTROL"
#: How long a shared connection stays open after its last use.
CONTROL_PERSIST = "60s"
# A unix socket's path has at most 103 bytes (104 with its final NUL on
# macOS; Linux: 108). ssh names the socket by a 40-digit hash (%C) and binds
# it first under a name with 17 more characters.
_SOCKET_ROOM = 103 - 1 - 40 - 17
_CONTROL_OPTION = re.compile(r"^(-o)?\s*control(master|path|persist)", re.IGNORECASE)
#: The ciphers asr moves to the front of ssh's own list where the CPU has
#: AES instructions. ssh and sshd then spend about half the CPU time of
#: their default, ChaCha20-Poly1305 (a gigabyte to localhost here: 1.7 s
#: against 3.0 s), and a clone on a few cores waits for the CPU, not the
#: network (see docs/store.md).
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


@dataclass(frozen=True)
class SshUrl:
    host: str
    path: str
    user: str | None = None
    port: int | None = None


def control_folder() -> Path | None:
    """A private folder for ssh's shared connections, or None for none.

    `ASR_SSH_CONTROL` names it (or says "no"); by default the user's runtime
    folder, else ~/.asr/ssh, else one in /tmp: the first whose sockets'
    paths fit and that is ours alone (mode 0700: no one else can put a
    socket of theirs in our way)."""
    setting = os.environ.get(SSH_CONTROL, "").strip()
    if setting.lower() in ("no", "off", "0", "false"):
        return None
    if setting:
        candidates = [Path(setting).expanduser()]
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        candidates = [Path(runtime) / "asr-ssh"] if runtime else []
        candidates.append(Path.home() / ".asr" / "ssh")
        candidates.append(Path(tempfile.gettempdir()) / f"asr-ssh-{os.getuid()}")
    for folder in candidates:
        text = str(folder)
        if len(os.fsencode(text)) <= _SOCKET_ROOM and not set(text) & set(' "%'):
            if _private(folder):
                return folder
    return None


def _private(folder: Path) -> bool:
    """Is `folder` ours alone (made so if need be), and can it hold sockets?
    (ssh stops, not falls back, where it cannot bind one: AFS, some FUSE.)"""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = os.lstat(folder)
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
            return False
        if found.st_mode & 0o077:
            os.chmod(folder, 0o700)
        probe = folder / f".probe-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()  # left by a process of this pid that was killed
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(probe))
        probe.unlink()
        return True
    except OSError:
        return False


def _control_options(ssh: list[str]) -> list[str]:
    """ssh options that share one connection (as Ansible does): a fetch
    within CONTROL_PERSIST of the last skips the login. None if the user's
    own ssh command says how (or `ASR_SSH_CONTROL=no`)."""
    if any(_CONTROL_OPTION.match(word) or word in ("-S", "-M") for word in ssh):
        return []
    folder = control_folder()
    if folder is None:
        return []
    return [
        *("-o", "ControlMaster=auto"),
        *("-o", f"ControlPath={folder}/%C"),
        *("-o", f"ControlPersist={CONTROL_PERSIST}"),
    ]


def ssh_command(url: SshUrl) -> list[str]:
    """The command that runs `asr remote serve` at `url` over ssh."""
    ssh = shlex.split(os.environ.get(SSH_COMMAND, "ssh"))
    ssh += _control_options(ssh)
    if url.port:
        ssh += ["-p", str(url.port)]
    target = f"{url.user}@{url.host}" if url.user else url.host
    ssh += cipher_options(ssh, target)
    asr = os.environ.get(REMOTE_ASR, "asr")
    remote = f"{asr} remote serve {shlex.quote(url.path)}"
    return [*ssh, "-o", "BatchMode=yes", target, remote]


def cipher_options(ssh: list[str], target: str) -> list[str]:
    """`-o Ciphers=...`: ssh's own list with AES-GCM first, or nothing where
    the user chose (their ssh command or configuration lists ciphers other
    than ssh's built-in default), where ssh knows no AES-GCM, where the
    CPU lacks AES instructions, or where the command is not OpenSSH's
    `ssh` itself (a wrapper need not understand the `ssh -G` asked of it).
    A cipher is only moved, never added: the server still agrees on the
    first it knows of the list."""
    if os.path.basename(ssh[0]) != "ssh" or not has_aes():
        return []
    theirs = _ciphers(tuple(ssh), target)
    if theirs is None or theirs != _ciphers((ssh[0], "-F", os.devnull), target):
        return []
    fast = tuple(c for c in FAST_CIPHERS if c in theirs)
    if not fast or theirs[: len(fast)] == fast:
        return []
    ordered = fast + tuple(c for c in theirs if c not in fast)
    return ["-o", "Ciphers=" + ",".join(ordered)]


@functools.cache
def _ciphers(ssh: tuple[str, ...], target: str) -> tuple[str, ...] | None:
    """The ciphers `ssh` would offer `target` (`ssh -G` reads the config,
    logs in nowhere), or None if it cannot say (an ssh older than 6.8)."""
    try:
        found = subprocess.run(
            [*ssh, "-G", target],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in found.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "ciphers" and found.returncode == 0:
            return tuple(value.split(","))  # cached: not to be changed
    return None


@functools.cache
def has_aes() -> bool:
    """Does this CPU have AES instructions (x86's AES-NI, Arm's AES)?
    Read from Linux's /proc/cpuinfo; elsewhere (macOS) the 64-bit CPUs
    all do."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return "aes" in value.split()
    except OSError:
        pass
    import platform

    return platform.machine().lower() in ("x86_64", "amd64", "arm64", "aarch64")
