"""Real processes asking for the same call; files kept as blobs; real GPAW."""

import subprocess
import sys
import textwrap

import pytest
from ase.build import bulk

from asr.core import File, instruction

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from asr.core import instruction

    @instruction("test.slow")
    def slow(x: int):
        with open("computations.log", "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(1.0)
        return x * 2

    record = slow(21)
    print(record.uid, record.result)
    """
)


def test_two_processes_compute_once(store, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len({uid for uid, _ in outputs}) == 1
    assert {result for _, result in outputs} == {"42"}
    assert len((tmp_path / "computations.log").read_text().split()) == 1


@instruction("test.writes_file")
def writes_file(text: str):
    with open("out.txt", "w") as f:
        f.write(text)
    return {"file": File("out.txt")}


@instruction("test.reads_file")
def reads_file(text: str):
    made = writes_file(text).result["file"]
    return made.path.read_text().upper()


def test_files_become_blobs_and_paths(store, tmp_path):
    record = writes_file("hello")
    file = record.result["file"]
    assert file.blob is not None and store.get_blob(file.blob) == b"hello"
    (tmp_path / "out.txt").unlink()  # the store keeps its own copy
    assert reads_file("hello").result == "HELLO"
    again = store.head(record.uid).payload["result"]["file"]
    assert again.path.read_bytes() == b"hello"
    assert again.path.is_relative_to(store.root)


@instruction("test.si_gs", packages=("gpaw",))
def si_ground_state(atoms, ecut: float = 150.0, kpts: tuple = (2, 2, 2)):
    from gpaw import GPAW, PW

    atoms = atoms.copy()
    atoms.calc = GPAW(mode=PW(ecut), kpts=kpts, txt=None)
    energy = atoms.get_potential_energy()
    atoms.calc.write("gs.gpw")
    return {"energy": energy, "gpw": File("gs.gpw")}


@instruction("test.si_gap", packages=("gpaw",))
def si_gap(atoms):
    from gpaw import GPAW

    gs = si_ground_state(atoms).result
    calc = GPAW(gs["gpw"].path, txt=None)
    eigs = [calc.get_eigenvalues(k)[:8] for k in range(len(calc.get_ibz_k_points()))]
    occupied = 4  # Si2: 8 valence electrons
    vbm = max(e[occupied - 1] for e in eigs)
    cbm = min(e[occupied] for e in eigs)
    return cbm - vbm


@pytest.mark.gpaw
def test_gpaw_ground_state_reused_by_dependent(store):
    atoms = bulk("Si")
    gs = si_ground_state(atoms)
    assert gs.result["energy"] < 0
    assert "gpaw" in gs.metadata["versions"]
    gap = si_gap(atoms)
    assert 0 < gap.result < 3
    assert [d.uid for d in gap.dependencies] == [gs.uid]
    assert si_ground_state(atoms).oid == gs.oid  # cache hit, no recompute
