"""MyQueue's local scheduler for a tree: tasks run as processes on this machine.

MyQueue's `myqueue.schedulers.local` runs a server that starts queued tasks
as subprocesses, as many at once as it has cores. This module runs that
server for one MyQueue home (the folder holding `.myqueue/`) with three
changes that many concurrent workflow tasks need:

* it listens on a free port on 127.0.0.1 and writes that port into
  `.myqueue/config.py` (MyQueue's client always dials port 39999, so two
  trees, or two users, would otherwise share one server);
* it reads a whole request, not only its first 1024 bytes (a task with a
  few dependencies in a deep folder is larger than that), and the client
  sends only the ids and names of a task's dependencies;
* its task table is read and changed under one lock (the stock server
  iterates over it while other threads add and remove tasks).

``python -m asr.workflow.local HOME [--cores N]`` serves in the foreground;
`start` and `stop` run it in the background (``asr workflow local``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import pickle
import pprint
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from asr.store.files import pid_alive

from .errors import WorkflowError

MARKER = "# MyQueue's local scheduler, set up by asr.workflow.local"
PID_FILE = "asr_local_server.pid"  # no dashes: MyQueue reads *-*-* files
LOG_FILE = "asr_local_server.log"
COMMANDS = ("submit", "cancel", "list", "stop")


# -- configuration ------------------------------------------------------------


def read_config(home: Path) -> dict[str, Any] | None:
    """The `config` dict of ``home/.myqueue/config.py`` (None: no file)."""
    path = Path(home) / ".myqueue" / "config.py"
    if not path.is_file():
        return None
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return dict(namespace.get("config", {}))


def configure(home: Path, port: int | None = None) -> Path:
    """Make ``home/.myqueue/config.py`` use a local scheduler on `port`.

    Keeps the other settings of an existing local configuration; tasks run
    with this Python unless the configuration names another one.
    """
    folder = Path(home) / ".myqueue"
    folder.mkdir(exist_ok=True)
    config = read_config(home) or {"scheduler": "local"}
    if config.get("scheduler", "local") != "local":
        raise WorkflowError(
            f"{folder / 'config.py'} uses the {config['scheduler']!r} scheduler, "
            "not 'local': submit with `mq workflow` instead"
        )
    config["scheduler"] = "local"
    config.setdefault("serial_python", sys.executable)
    config.setdefault("parallel_python", sys.executable)
    lines = [MARKER, ""]
    if port is not None:
        lines += [
            "from asr.workflow.local import use_server",
            "",
            f"use_server(port={port})",
            "",
        ]
    lines.append(f"config = {pprint.pformat(config, sort_dicts=False)}")
    path = folder / "config.py"
    text = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_name(f"config.py.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def use_server(port: int) -> None:
    """Make MyQueue's local-scheduler client talk to our server on `port`.

    Called from `.myqueue/config.py`, which every `mq` command executes.
    """
    from myqueue.schedulers.local import LocalScheduler

    LocalScheduler.port = port
    LocalScheduler.submit = _submit  # type: ignore[method-assign]


def _submit(self, task, dry_run: bool = False, verbose: bool = False) -> int:
    if dry_run:
        if verbose:
            print(task)
        return 1
    slim = copy.copy(task)
    slim.cmd = copy.copy(task.cmd)
    slim.cmd.function = None
    # The server needs only the id and name of each dependency.
    slim.dtasks = [SimpleNamespace(id=t.id, dname=t.dname) for t in task.dtasks]
    return self.send("submit", slim)


# -- the server -----------------------------------------------------------------


def _server_class():
    from myqueue.schedulers.local import Server
    from myqueue.states import State

    class LocalServer(Server):
        """MyQueue's local-scheduler server, safe for many concurrent tasks."""

        def __init__(self, config, cores: int, on_listening=None):
            super().__init__(config, cores=cores, port=0)
            self.tasks_lock = threading.RLock()
            self.on_listening = on_listening

        def run(self) -> None:
            self.loop_thread.start()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", self.port))
                s.listen(64)
                self.port = s.getsockname()[1]
                print(f"Listening to address 127.0.0.1:{self.port}", flush=True)
                if self.on_listening is not None:
                    self.on_listening(self.port)
                while True:
                    conn, _ = s.accept()
                    with conn:
                        try:
                            command, *args = _receive(conn)
                        except Exception as err:  # not a request: ignore it
                            print(f"bad request: {err}", flush=True)
                            continue
                        try:
                            if command not in COMMANDS:
                                raise ValueError(f"unknown command {command!r}")
                            reply = ("ok", getattr(self, command)(*args))
                        except Exception as err:  # answer, and keep serving
                            reply = (f"{type(err).__name__}: {err}", None)
                        if command != "stop":
                            conn.sendall(pickle.dumps(reply))
                    self.queue.put(command)
                    if command == "stop":
                        break
            self.loop_thread.join()

        def submit(self, task) -> int:
            with self.tasks_lock:
                # A dependency that finished meanwhile is no longer waited for.
                task.dtasks = [t for t in task.dtasks if t.id in self.tasks]
                return super().submit(task)

        def list(self) -> list[int]:
            with self.tasks_lock:
                return list(self.tasks)

        def cancel(self, id: int) -> None:
            with self.tasks_lock:
                if id in self.running:  # the whole session, not only the shell
                    with contextlib.suppress(OSError):
                        os.killpg(self.running[id][1].pid, signal.SIGTERM)
                elif id in self.tasks:
                    super().cancel(id)

        def kick(self) -> None:
            with self.tasks_lock:
                super().kick()

        def start(self, task) -> None:
            # As the stock server, but in a session of its own, so that a
            # task over its time is killed with all its processes.
            out = f"{task.cmd.short_name}.{task.id}.out"
            err = f"{task.cmd.short_name}.{task.id}.err"
            command = str(task.cmd)
            if task.resources.processes > 1:
                mpiexec = f"{self.config.mpiexec} -x OMP_NUM_THREADS=1 "
                mpiexec += f"-np {task.resources.processes} "
                command = mpiexec + command.replace(
                    "python3", self.config.parallel_python
                )
            else:
                command = command.replace("python3", self.config.serial_python)
            proc = subprocess.Popen(
                f"{command} 2> {err} > {out}",
                shell=True,
                cwd=task.folder,
                env=thread_limits(task.resources.cores, task.resources.processes),
                start_new_session=True,
            )
            thread = threading.Thread(target=self.target, args=(task.id,))
            self.running[task.id] = (thread, proc)
            task.state = State.running
            thread.start()

        def target(self, id: int) -> None:
            task = self.tasks[id]
            (self.folder / f"local-{id}-0").write_text("")  # running
            _, proc = self.running[id]
            timed_out = False
            try:
                proc.wait(timeout=task.resources.tmax)
            except subprocess.TimeoutExpired:
                timed_out = True
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with self.tasks_lock:
                del self.tasks[id]
                if proc.returncode == 0 and not timed_out:
                    for other in self.tasks.values():
                        if task.dname in other.deps:
                            other.deps.remove(task.dname)
                    state = 1
                else:
                    state = 3 if timed_out else 2
                    self.cancel_dependents(task)
            (self.folder / f"local-{id}-{state}").write_text("")
            self.queue.put("join")

        def cancel_dependents(self, task) -> None:
            with self.tasks_lock:
                super().cancel_dependents(task)

    return LocalServer


def _receive(conn: socket.socket) -> tuple:
    """One pickled request; MyQueue's client sends it whole, then waits."""
    conn.settimeout(30)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        try:
            return pickle.loads(data)
        except Exception:  # not all of it yet
            continue
    return pickle.loads(data)


def serve(home: Path, cores: int) -> None:
    """Run the local scheduler of MyQueue home `home` until `stop`."""
    from myqueue.config import Configuration

    home = Path(home).resolve()
    configure(home)
    config = Configuration.read(home)

    def listening(port: int) -> None:
        configure(home, port)
        (home / ".myqueue" / PID_FILE).write_text(f"{os.getpid()}\n")

    try:
        _server_class()(config, cores, on_listening=listening).run()
    finally:
        (home / ".myqueue" / PID_FILE).unlink(missing_ok=True)


# -- start and stop in the background ---------------------------------------------


# Servers started by this process, so that their exit is noticed (and reaped).
_children: dict[int, subprocess.Popen] = {}


def server_pid(home: Path) -> int | None:
    """The pid of the running server of `home`, or None."""
    path = Path(home) / ".myqueue" / PID_FILE
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return None
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return None
    return pid if pid_alive(pid) else None  # a zombie is no server


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_limits(cores: int, processes: int) -> dict[str, str]:
    """The environment of a task: its cores shared by its processes' threads.

    Unlimited, OpenBLAS starts a thread per core of the machine in every
    task, and their busy waiting made two one-core tasks on two cores run
    several times slower. A limit the user set is kept.
    """
    env = dict(os.environ)
    threads = str(max(1, cores // max(1, processes)))
    for name in THREAD_VARIABLES:
        env.setdefault(name, threads)
    return env


def start(home: Path, cores: int | None = None, timeout: float = 30.0) -> int:
    """Start the server of `home` in the background; returns its pid."""
    home = Path(home).resolve()
    pid = server_pid(home)
    if pid is not None:
        return pid
    configure(home)  # fails early for a home with another scheduler
    log = open(home / ".myqueue" / LOG_FILE, "ab")
    cores = cores or os.cpu_count() or 1
    process = subprocess.Popen(
        [sys.executable, "-m", "asr.workflow.local", str(home), "--cores", str(cores)],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # not killed with the terminal's process group
    )
    log.close()
    _children[process.pid] = process
    deadline = time.monotonic() + timeout
    while server_pid(home) != process.pid:
        if process.poll() is not None or time.monotonic() > deadline:
            raise WorkflowError(
                f"the local scheduler did not start; see {home}/.myqueue/{LOG_FILE}"
            )
        time.sleep(0.05)
    forget_lost_tasks(home)
    return process.pid


def forget_lost_tasks(home: Path) -> None:
    """``mq sync``: drop queued and running tasks the scheduler does not know.

    A new server starts with an empty table; the tasks of one that was
    killed would otherwise stay queued forever. Their calls have no
    Records, so the next ``mq workflow`` submits them again.
    """
    import io

    from myqueue.config import Configuration
    from myqueue.queue import Queue
    from myqueue.syncronize import sync

    with contextlib.redirect_stdout(io.StringIO()):
        with Queue(Configuration.read(home)) as queue:
            sync(queue)


def stop(home: Path, timeout: float = 60.0) -> bool:
    """Stop the server of `home` (after its running tasks); False: none ran."""
    from myqueue.config import Configuration
    from myqueue.schedulers.local import LocalScheduler

    home = Path(home).resolve()
    pid = server_pid(home)
    if pid is None:
        return False
    Configuration.read(home)  # executes config.py: the client dials our port
    try:
        LocalScheduler(Configuration.read(home)).send("stop")
    except OSError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while server_pid(home) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def daemon_file(home: Path) -> Path:
    """The pid file of MyQueue's background daemon (``mq`` forks it)."""
    user = os.environ.get("USER", "root")
    return Path(home) / ".myqueue" / f"daemon-{user}.pid"


def stop_daemon(home: Path) -> None:
    """Stop MyQueue's daemon of `home`, as ``mq daemon stop`` does."""
    try:
        host, pid = daemon_file(home).read_text().split(":")
        if host == socket.gethostname():
            os.kill(int(pid), signal.SIGWINCH)
    except (OSError, ValueError):
        pass  # not running, or not here


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m asr.workflow.local",
        description="Run MyQueue's local scheduler for the MyQueue home HOME.",
    )
    parser.add_argument("home", type=Path)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    serve(args.home, args.cores)


if __name__ == "__main__":
    main()
