"""Load: many readers at once on `asr app` and on ASE's own web app.

Both servers run in their own process on 127.0.0.1 over the same database:
``asr app`` (waitress) and ASE's app (`ase.db.app.DBApp`, which ``ase db -w``
starts, here on a loopback port and without its debug reloader). Each
client is a thread with one keep-alive connection that repeats what a
reader does: search with filters, sort the result, turn the page, open two
materials. Times are per page view as a browser shows it: ASE's search page
is a shell plus the table it then fetches (two requests); its sorting and
paging fetch only the table (one request); every `asr app` view is one
request.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
ASE_APP = """
import sys
from ase.db import connect
from ase.db.app import DBApp
app = DBApp()
app.add_project("default", connect(sys.argv[1]))
app.flask.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
"""


@dataclass
class Load:
    name: str
    times: list[float] = field(default_factory=list)  # seconds per page view
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (s, path)
    reconnects: int = 0  # connections the server closed, opened again

    def add(self, seconds: float, path: str) -> None:
        """One page view (call under the lock); keeps the five slowest."""
        self.times.append(seconds)
        self.slowest = sorted([*self.slowest, (seconds, path)], reverse=True)[:5]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def row(self) -> list[str]:
        return [
            self.name,
            str(len(self.times)),
            f"{statistics.median(self.times) * 1000:.0f} ms",
            f"{self.percentile(99) * 1000:.0f} ms",
            f"{max(self.times) * 1000:.0f} ms",
            f"{len(self.times) / self.seconds:.0f}",
            f"{self.requests / self.seconds:.0f}",
            str(self.errors),
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} stopped at start") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[:4]} did not start")


class Client:
    """One reader: a keep-alive connection and the views it asks for."""

    def __init__(self, port: int, load: Load, lock: threading.Lock):
        self.port, self.load, self.lock = port, load, lock
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.reconnected = False

    def get(self, path: str) -> str:
        for attempt in (1, 2):
            try:
                self.connection.request("GET", path)
                response = self.connection.getresponse()
                body = response.read().decode("utf-8", "replace")
                with self.lock:
                    self.load.requests += 1
                    self.load.errors += response.status != 200
                return body
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.reconnected = True
                with self.lock:
                    self.load.reconnects += 1
                if attempt == 2:
                    with self.lock:
                        self.load.errors += 1
                    return ""
        return ""

    def view(self, *paths: str) -> str:
        start = time.perf_counter()
        body = ""
        self.reconnected = False
        for path in paths:
            body = self.get(path)
        note = " (connection closed, opened again)" if self.reconnected else ""
        with self.lock:
            self.load.add(time.perf_counter() - start, paths[-1] + note)
        return body


def searches(rng: random.Random) -> tuple[str, str, str]:
    """A filter query in ASE's language, a key to sort by, and a page."""
    low = round(rng.uniform(0, 3), 1)
    return (
        rng.choice(
            [
                f"gap>={low},gap<={low + 1},magstate=fm",
                f"ehull<{round(rng.uniform(0.05, 0.3), 2)}",
                rng.choice(["MoS2", "WSe2", "CrTe2", "TiO2"]),
                f"spgnum>={rng.randint(1, 200)},magnetic=True",
            ]
        ),
        rng.choice(["gap", "ehull", "label"]),
        str(rng.randint(1, 4)),
    )


def asr_reader(client: Client, rng: random.Random, nrows: int, until: float) -> None:
    while time.monotonic() < until:
        query, sort, page = searches(rng)
        q = quote(query)
        client.view(f"/?q={q}")
        client.view(f"/?q={q}&sort=-{sort}")
        client.view(f"/?q={q}&sort=-{sort}&page={page}")
        client.view(f"/material/{rng.randint(1, nrows)}")
        client.view(f"/material/{rng.randint(1, nrows)}")


def ase_reader(client: Client, rng: random.Random, nrows: int, until: float) -> None:
    while time.monotonic() < until:
        query, sort, page = searches(rng)
        start = time.perf_counter()
        shell = client.get("/default/")  # the page opens a session ...
        found = re.search(r"update_table\((\d+), 'query'", shell)
        if not found:
            with client.lock:
                client.load.errors += 1
            continue
        sid = found.group(1)
        client.get(f"/update/{sid}/query/0/?query={quote(query)}")  # ... the table
        with client.lock:
            client.load.add(time.perf_counter() - start, f"/default/ + {query}")
        client.view(f"/update/{sid}/sort/{sort}/")
        client.view(f"/update/{sid}/page/{int(page) - 1}/")
        client.view(f"/default/row/{rng.randint(1, nrows)}")
        client.view(f"/default/row/{rng.randint(1, nrows)}")


def run_load(
    name: str, port: int, reader, clients: int, seconds: float, nrows: int
) -> Load:
    load = Load(name)
    lock = threading.Lock()
    warm = Client(port, Load("warm-up"), lock)
    reader(warm, random.Random(0), nrows, time.monotonic() + 2)
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=reader,
            args=(Client(port, load, lock), random.Random(i + 1), nrows, until),
        )
        for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - start
    return load


def compare(
    db_path: Path, nrows: int, clients: int, seconds: float, threads: int
) -> list[Load]:
    """`asr app` and ASE's app under the same load, one after the other."""
    results = []
    port = free_port()
    asr = start(
        [
            sys.executable,
            "-m",
            "asr.cli.main",
            "app",
            str(db_path),
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--cache",
            str(db_path.parent / "load-cache"),
        ],
        port,
    )
    try:
        results.append(
            run_load(
                f"asr app (waitress, {threads} threads)",
                port,
                asr_reader,
                clients,
                seconds,
                nrows,
            )
        )
    finally:
        asr.terminate()
        asr.wait(30)
    port = free_port()
    ase = start([sys.executable, "-c", ASE_APP, str(db_path), str(port)], port)
    try:
        results.append(
            run_load("ASE's app (ase db -w)", port, ase_reader, clients, seconds, nrows)
        )
    finally:
        ase.terminate()
        ase.wait(30)
    return results
