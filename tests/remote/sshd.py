"""A private sshd on a free localhost port: a throwaway host key, a client
key, a config in a temporary folder. Nothing of the system's ssh setup is
read or changed (as root, sshd needs its privilege separation folder
/run/sshd, which its package makes at boot; it is made if missing)."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parents[2]


def available() -> bool:
    return Path(SSHD).is_file() and shutil.which("ssh") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sshd:
    """`with Sshd(folder) as sshd:` serves until the block ends."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.user = (
            os.environ.get("USER")
            or subprocess.check_output(["id", "-un"], text=True).strip()
        )

    def __enter__(self) -> Sshd:
        f = self.folder
        f.mkdir(parents=True, exist_ok=True)
        for key in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(f / key)],
                check=True,
            )
        (f / "authorized_keys").write_text((f / "client_key.pub").read_text())
        (f / "authorized_keys").chmod(0o600)
        (f / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {f / 'host_key'}\nAuthorizedKeysFile {f / 'authorized_keys'}\n"
            f"PidFile {f / 'sshd.pid'}\nUsePAM no\nStrictModes no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        )
        # ssh's shared connections (short: a socket's path has <= 104 bytes)
        self.control = Path(tempfile.mkdtemp(prefix="asr-ssh-"))
        if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log = open(f / "sshd.log", "wb")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(f / "sshd_config")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((f / "sshd.log").read_text()) from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.close_connections()
        shutil.rmtree(self.control, ignore_errors=True)
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def environ(self) -> dict[str, str]:
        """What the client side needs: the ssh command and the remote asr."""
        f = self.folder
        ssh = (
            f"ssh -F /dev/null -i {f / 'client_key'} -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile={f / 'known_hosts'} "
            "-o StrictHostKeyChecking=no -o LogLevel=ERROR"
        )
        asr = (
            f"env PYTHONPATH={shlex.quote(str(REPO))} OMP_NUM_THREADS=1 "
            f"{shlex.quote(sys.executable)} -m asr.cli.main"
        )
        return {
            "ASR_SSH_COMMAND": ssh,
            "ASR_REMOTE_ASR": asr,
            "ASR_SSH_CONTROL": str(self.control),
        }

    def close_connections(self) -> None:
        """End the shared connections (ssh -O exit), as ControlPersist would."""
        for socket_path in self.control.iterdir():
            subprocess.run(
                ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "x"],
                capture_output=True,
                timeout=10,
            )

    def logins(self) -> int:
        """How many times a client logged in (sshd's log says each)."""
        text = (self.folder / "sshd.log").read_text(errors="replace")
        return text.count("Accepted publickey")

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"
