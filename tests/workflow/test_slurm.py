"""The SLURM path of docs/workflows.md, on a real single-node SLURM.

The test installs Debian's slurm-wlm and munge if they are missing (it must
run as root), then starts a private munged (own key and socket), slurmctld
and slurmd on this host with a slurm.conf in a temporary folder (SLURM_CONF
points every SLURM command at it) and stops them at the end. It skips,
saying why, where that cannot work.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wfhelpers import MyQueue, write_flow

pytestmark = pytest.mark.slow

PACKAGES = ("slurm-wlm", "munge")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")

SLURM_CONF = """\
ClusterName=asrtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def programs_missing() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p, path="/usr/sbin:/usr/bin") is None]


def install() -> None:
    """apt-get install slurm-wlm munge, or skip saying why that cannot work."""
    if not programs_missing():
        return
    if os.geteuid() != 0:
        pytest.skip("SLURM is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and there is no apt-get (not Debian)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *PACKAGES],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            pytest.skip(
                f"cannot install SLURM: {' '.join(command)}: {done.stderr[-500:]}"
            )
    if programs_missing():
        pytest.skip(f"installed {PACKAGES} but {programs_missing()} are missing")


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def slurm(tmp_path_factory, monkeypatch):
    """A single-node SLURM cluster on this host; yields the slurm.conf path."""
    install()
    folder = tmp_path_factory.mktemp("slurm")
    folder.chmod(0o755)  # munged wants its socket's folder reachable
    (folder / "state").mkdir()
    (folder / "spool").mkdir()
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    host = socket.gethostname()
    conf = folder / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(
            host=host,
            dir=folder,
            ctld_port=free_port(),
            slurmd_port=free_port(),
            cpus=os.cpu_count() or 1,
        )
    )
    monkeypatch.setenv("SLURM_CONF", str(conf))
    daemons = []

    def start(*command: str) -> None:
        log = open(folder / f"{Path(command[0]).name}.out", "w")
        daemons.append(subprocess.Popen(command, stdout=log, stderr=log))

    try:
        start(
            "/usr/sbin/munged",
            "--foreground",
            "--force",  # as root, with a key of our own
            f"--key-file={key}",
            f"--socket={folder}/munge.socket",
            f"--pid-file={folder}/munged.pid",
            f"--log-file={folder}/munged.log",
            f"--seed-file={folder}/munged.seed",
        )
        wait_for((folder / "munge.socket").exists, 20, "munged")
        start("/usr/sbin/slurmctld", "-D", "-f", str(conf))
        start("/usr/sbin/slurmd", "-D", "-f", str(conf))

        def node_idle() -> bool:
            done = subprocess.run(
                ["sinfo", "--noheader", "-o", "%t"], capture_output=True, text=True
            )
            return done.stdout.strip() == "idle"

        try:
            wait_for(node_idle, 60, "an idle SLURM node")
        except AssertionError:
            logs = "".join(
                p.read_text()[-300:] for p in folder.glob("*.out") if p.is_file()
            )
            pytest.skip(f"SLURM daemons did not come up in this sandbox: {logs}")
        yield conf
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
        for daemon in daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()


FLOW = """
    from ase.io import read
    from asr.workflow import run

    def workflow():
        atoms = read("structure.json")
        strained = run("wfsteps:strain", atoms, factor=1.01, resources="1:5m")
        energy = run("wfsteps:energy", strained.result, resources="1:2m")
        if energy.result < 1000:
            run("asr.structureinfo", atoms=strained.result)
"""


def test_workflow_on_slurm(tree, slurm):
    mq = MyQueue(tree)
    mq("config", "slurm", "--in-place")  # reads the partitions with sinfo
    mq("init")
    config = tree / ".myqueue" / "config.py"
    assert "'scheduler': 'slurm'" in config.read_text()
    # The jobs must run this Python (docs/workflows.md, "SLURM").
    with config.open("a") as fd:
        fd.write(f"config['serial_python'] = {sys.executable!r}\n")
    flow = write_flow(tree, FLOW)
    folders = ["tree/Cu/", "tree/Al/"]

    out = mq("workflow", str(flow), *folders)
    assert "4 tasks submitted" in out
    states = mq.wait(timeout=300)
    assert set(states) == {"done"}, states
    out = mq("workflow", str(flow), *folders)
    assert "2 tasks submitted" in out  # after the energies are known
    mq.wait(timeout=300)
    assert list(mq.states().values()) == ["done"] * 6
    assert "submitted" not in mq("workflow", str(flow), *folders)

    listed = mq("ls", "tree/Cu/")
    assert "1:5m" in listed and "1:2m" in listed  # resources went to SLURM
    assert "asr.structureinfo: Record" in "".join(
        p.read_text() for p in (tree / "tree/Cu").glob("*.out")
    )


MPI_TESTS = Path(__file__).parent.parent / "mpi"


@pytest.mark.mpi
def test_srun_runs_one_call_on_two_ranks(tmp_path, slurm):
    """`srun -n 2 python script.py`: ASR sees PMIx and makes the MPI world."""
    import json

    from asr.store import init_store

    init_store(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": f"{MPI_TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    command = ["srun", "--mpi=pmix", "-n", "2", "--time=2", sys.executable]
    command += [str(MPI_TESTS / "script.py"), "3.6"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(line["rank"] for line in lines) == [0, 1]
    assert {line["ranks"] for line in lines} == {2}
    assert len({line["uid"] for line in lines}) == 1
    assert len(list(tmp_path.glob("ran-on-rank-*"))) == 2
