"""`asr app` in a fresh process on a free port, for tests through the front door."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asr

ASR = [sys.executable, "-m", "asr.cli.main"]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, with this checkout's asr importable."""
    root = str(Path(asr.__file__).resolve().parents[1])
    path = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    first_line: str = ""
    output: str = ""


@contextmanager
def serve(database: Path, *args: str, env: dict | None = None) -> Iterator[Server]:
    """`asr app DATABASE ARGS` in a fresh process on a free port, until done."""
    port = free_port()
    process = subprocess.Popen(
        [*ASR, "app", str(database), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(**(env or {})),
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        server.first_line = process.stdout.readline().rstrip("\n")
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        server.first_line + process.stdout.read()
                    ) from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        server.output = server.first_line + "\n" + process.communicate(timeout=30)[0]


def get(url: str, binary: bool = False):
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return body if binary else body.decode()
