"""MyQueue's local scheduler for a tree: tasks run as processes on this machine.

MyQueue's `myqueue.schedulers.local` runs a server that starts queued tasks
as subprocesses, as many at once as it has cores. This module runs that
server for one MyQueue home (the folder holding `.myqueue/`) with three
changes that many concurrent workflow tasks need:

* it listens on a Unix socket in a fresh folder only its user can enter
  (mode 0700) and writes that socket's path into `.myqueue/config.py`
  (MyQueue's client dials port 39999 on 127.0.0.1, which every user of the
  machine can reach, so two trees or two users would share one server), and
  it answers only processes of its own user;
* requests and replies are JSON, never pickle (the stock server unpickles
  whatever reaches its port: any local user could run code as the user who
  runs the scheduler); a task travels as MyQueue's `Task.todict()`, with
  only the ids and names of its dependencies, and is read whole;
* its task table is read and changed under one lock (the stock server
  iterates over it while other threads add and remove tasks).

``python -m asr.workflow.local HOME [--cores N]`` serves in the foreground;
`start` and `stop` run it in the background (``asr workflow local``).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import pprint
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from asr.store.files import pid_alive

from .errors import WorkflowError

SOCKET_PREFIX = "asr-mq-"
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


def configure(home: Path, address: str | None = None) -> Path:
    """Make ``home/.myqueue/config.py`` use a local scheduler at `address`.

    `address` is the path of the server's Unix socket. Keeps the other
    settings of an existing local configuration; tasks run with this Python
    unless the configuration names another one.
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
    if address is not None:
        lines += [
            "from asr.workflow.local import use_server",
            "",
            f"use_server(socket={address!r})",
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


def use_server(socket: str | None = None, port: int | None = None) -> None:
    """Make MyQueue's local-scheduler client talk to our server at `socket`.

    Called from `.myqueue/config.py`, which every `mq` command executes.
    (`port` is what older versions wrote there; such a server is refused.)
    """
    from myqueue.schedulers.local import LocalScheduler

    LocalScheduler.address = socket
    LocalScheduler.send = _send  # type: ignore[method-assign]
    LocalScheduler.submit = _submit  # type: ignore[method-assign]


def _submit(self, task, dry_run: bool = False, verbose: bool = False) -> int:
    if dry_run:
        if verbose:
            print(task)
        return 1
    return self.send("submit", task_data(task))


def task_data(task) -> dict[str, Any]:
    """A MyQueue task as JSON data; its dependencies only by id and name."""
    data = task.todict()
    data["folder"] = str(Path(task.folder).absolute())
    data["deps"] = [str(Path(dep).absolute()) for dep in task.deps]
    data["dtasks"] = [[t.id, str(t.dname)] for t in task.dtasks]
    return data


def task_from_data(data: dict[str, Any]):
    """The task of `task_data` (with stand-ins for its dependencies)."""
    from myqueue.task import Task

    data = dict(data)
    dtasks = data.pop("dtasks")
    task = Task.fromdict(data, Path("/"))  # the folder is absolute
    task.dtasks = [SimpleNamespace(id=int(i), dname=Path(d)) for i, d in dtasks]
    return task


def _send(self, *args: Any) -> Any:
    """MyQueue's `LocalScheduler.send`, over our socket and in JSON."""
    from myqueue.schedulers.local import LocalSchedulerError

    address = getattr(self, "address", None)
    if address is None:
        raise LocalSchedulerError(
            "this tree's local scheduler is of an older ASR: run "
            "`asr workflow local stop`, then `asr workflow local start`"
        )
    command, *rest = args
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConnectionRefusedError(
                f"no local scheduler listens at {address}; "
                "start one with `asr workflow local start`"
            ) from None
        s.sendall(json.dumps({"command": command, "args": rest}).encode())
        s.shutdown(socket.SHUT_WR)
        reply = _read_all(s)
    if command == "stop":
        return None
    status, result = _parse_reply(reply)
    if status != "ok":
        raise LocalSchedulerError(status)
    return result


def _parse_reply(data: bytes) -> tuple[str, Any]:
    try:
        reply = json.loads(data)
        return str(reply["status"]), reply.get("result")
    except (ValueError, KeyError, TypeError):
        return f"the local scheduler gave no answer ({len(data)} bytes)", None


MAX_REQUEST = 16 << 20  # bytes; a task with thousands of dependencies is less


def _read_all(conn: socket.socket, limit: int = MAX_REQUEST) -> bytes:
    """Everything the peer sends until it shuts down its side."""
    conn.settimeout(30)
    chunks, size = [], 0
    while chunk := conn.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ValueError(f"request larger than {limit} bytes")
    return b"".join(chunks)


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket.

    Where the system cannot tell (no SO_PEERCRED: macOS), the socket's
    folder (0700) is the only guard: this user's id is returned.
    """
    if not hasattr(socket, "SO_PEERCRED"):
        return os.geteuid()
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return struct.unpack("3i", creds)[1]


def socket_folder() -> Path:
    """A new folder only this user can enter (0700), for the server's socket.

    In the temporary folder of this machine, not the tree: a socket's path
    must be short (108 bytes) and the server is local to this machine.
    """
    base = tempfile.gettempdir()
    if len(base) > 60:  # TMPDIR too deep for a socket path
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=base))


def socket_address(home: Path) -> Path | None:
    """The server socket that `home`'s ``.myqueue/config.py`` names, if any."""
    path = Path(home) / ".myqueue" / "config.py"
    try:
        match = re.search(r"^use_server\(socket=(.+)\)$", path.read_text(), re.M)
        return Path(ast.literal_eval(match.group(1))) if match else None
    except (OSError, ValueError, SyntaxError):
        return None


def remove_stale_socket(home: Path) -> None:
    """Remove the socket folder of a server of `home` that was killed.

    A server ended by SIGKILL (the OOM killer, a reboot) never ran its
    clean-up; without this, every such server would leave a folder in the
    temporary folder. A socket that still answers belongs to a live server
    (one starting now writes its address only once it listens) and stays.
    """
    address = socket_address(home)
    if address is None or not address.parent.name.startswith(SOCKET_PREFIX):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(address))
        except OSError:  # refused, or no socket file: nobody listens
            shutil.rmtree(address.parent, ignore_errors=True)


# -- the server -----------------------------------------------------------------


def _server_class():
    from myqueue.schedulers.local import Server
    from myqueue.states import State

    class LocalServer(Server):
        """MyQueue's local-scheduler server, safe for many concurrent tasks."""

        def __init__(self, config, cores: int, address: str, on_listening=None):
            super().__init__(config, cores=cores, port=0)
            self.tasks_lock = threading.RLock()
            self.address = address
            self.on_listening = on_listening

        def run(self) -> None:
            self.loop_thread.start()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind(self.address)
                os.chmod(self.address, 0o600)
                s.listen(64)
                print(f"Listening at {self.address}", flush=True)
                if self.on_listening is not None:
                    self.on_listening(self.address)
                while True:
                    conn, _ = s.accept()
                    with conn:
                        command = self.answer(conn)
                    if command is None:
                        continue
                    self.queue.put(command)
                    if command == "stop":
                        break
            self.loop_thread.join()

        def answer(self, conn: socket.socket) -> str | None:
            """Carry out one request; its command, None if refused."""
            try:
                data = _read_all(conn)  # all of it: then the refusal is read
                if peer_uid(conn) != os.geteuid():
                    raise PermissionError("another user's process")
                request = json.loads(data)
                command, args = request["command"], list(request["args"])
                if command not in COMMANDS:
                    raise ValueError(f"unknown command {command!r}")
            except Exception as err:  # not a request: refuse it
                print(f"refused a request: {err}", flush=True)
                _reply(conn, f"refused: {err}", None)
                return None
            try:
                if command == "submit":
                    args = [task_from_data(args[0])]
                result = getattr(self, command)(*args)
                status = "ok"
            except Exception as err:  # answer, and keep serving
                status, result = f"{type(err).__name__}: {err}", None
            if command != "stop":
                _reply(conn, status, result)
            return command

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
            if not timed_out and proc.returncode in (-signal.SIGKILL, 128 + 9):
                _note_kill(task)
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


def _note_kill(task) -> None:
    """A task killed by SIGKILL that the scheduler did not send: on Linux the
    kernel's OOM killer, as SLURM reports it (MyQueue then says MEMORY)."""
    err = Path(task.folder) / f"{task.cmd.short_name}.{task.id}.err"
    with contextlib.suppress(OSError), open(err, "a") as file:
        file.write(
            "Error: killed by signal 9 (SIGKILL), not by the scheduler: "
            "taken for an oom-kill (out of memory)\n"
        )


def _reply(conn: socket.socket, status: str, result: Any) -> None:
    with contextlib.suppress(OSError):  # the client is gone
        conn.sendall(json.dumps({"status": status, "result": result}).encode())


def serve(home: Path, cores: int) -> None:
    """Run the local scheduler of MyQueue home `home` until `stop`."""
    from myqueue.config import Configuration

    home = Path(home).resolve()
    configure(home)
    config = Configuration.read(home)
    folder = socket_folder()
    pid_file = home / ".myqueue" / PID_FILE

    def listening(address: str) -> None:
        configure(home, address)
        pid_file.write_text(f"{os.getpid()}\n{cores}\n")  # pid, then cores

    def clean_up() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        pid_file.unlink(missing_ok=True)  # last: `stop` waits for it

    def terminated(signum, frame) -> None:
        clean_up()  # the loop thread would keep a normal exit waiting
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        _server_class()(config, cores, str(folder / "socket"), listening).run()
    finally:
        clean_up()


# -- start and stop in the background ---------------------------------------------


# Servers started by this process, so that their exit is noticed (and reaped).
_children: dict[int, subprocess.Popen] = {}


def server_pid(home: Path) -> int | None:
    """The pid of the running server of `home`, or None."""
    path = Path(home) / ".myqueue" / PID_FILE
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return None
    return pid if pid_alive(pid) else None  # a zombie is no server


def server_cores(home: Path) -> int | None:
    """How many cores the running server of `home` gives its tasks."""
    path = Path(home) / ".myqueue" / PID_FILE
    try:
        return int(path.read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_limits(cores: int, processes: int) -> dict[str, str]:
    """The environment of a task: its cores shared by its processes' threads.

    Unlimited, OpenBLAS starts a thread per core of the machine in every
    task, and their busy waiting made two one-core tasks on two cores run
    several times slower. A limit the user set is kept. ``ASR_TASK_CORES``
    says how many cores the task got (as SLURM's ``SLURM_CPUS_ON_NODE``).
    """
    env = dict(os.environ, ASR_TASK_CORES=str(cores))
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
    remove_stale_socket(home)
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
    Configuration.read(home)  # executes config.py: the client finds our socket
    try:
        LocalScheduler(Configuration.read(home)).send("stop")
    except Exception:  # no answer (or an older server's): end it by signal
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
