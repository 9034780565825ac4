"""ASR under `mpiexec -n 2`: one lookup, one lock and one Record per call.

Every launch form a user types is run for real: ASR must make the MPI world
itself (plain `python`, `asr run`), not only under `gpaw python`.
"""

from __future__ import annotations

import json

import pytest
from mpihelpers import json_objects, mpiexec

from asr.core.cache import all_records
from asr.store import open_store
from asr.store.fsck import fsck

pytestmark = pytest.mark.mpi

LAUNCHES = {
    "python": ["python", "script.py", "3.6"],
    "gpaw python": ["gpaw", "python", "script.py", "3.6"],
}


def records(folder) -> list:
    return list(all_records(open_store(folder)))


@pytest.mark.parametrize("launch", LAUNCHES)
def test_a_call_runs_on_every_rank_and_is_stored_once(folder, launch):
    first = mpiexec(*LAUNCHES[launch], cwd=folder)
    assert first.returncode == 0, first.stderr
    lines = json_objects(first.stdout)
    assert sorted(line["rank"] for line in lines) == [0, 1]
    assert len({line["uid"] for line in lines}) == 1  # the same Record on both
    assert all(line["ranks"] == 2 for line in lines)
    assert sorted(p.name for p in folder.glob("ran-on-rank-*")) == [
        "ran-on-rank-0",
        "ran-on-rank-1",
    ]
    for path in folder.glob("ran-on-rank-*"):
        path.unlink()
    again = mpiexec(*LAUNCHES[launch], cwd=folder)
    assert again.returncode == 0, again.stderr
    assert not list(folder.glob("ran-on-rank-*"))  # a hit on both ranks
    assert {line["uid"] for line in json_objects(again.stdout)} == {lines[0]["uid"]}
    assert len(records(folder)) == 1
    assert not list((folder / ".asr" / "locks").iterdir())
    assert fsck(open_store(folder)).ok


def test_asr_run_prints_once_and_tells_the_truth(folder):
    first = mpiexec("asr", "run", "calls:energy --a 3.7", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("record ") == 1  # rank 0 alone prints
    assert "Computed in" in first.stdout and "Found" not in first.stdout
    assert len(list(folder.glob("ran-on-rank-*"))) == 2
    again = mpiexec("asr", "run", "calls:energy --a 3.7", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Found in the store") == 1
    assert len(records(folder)) == 1


def test_a_call_failing_on_one_rank_fails_on_all_without_hanging(folder):
    done = mpiexec("asr", "run", "calls:fails_on_rank_1 --x 1", cwd=folder, timeout=60)
    assert done.returncode != 0
    # Rank 0 tells the user, in the one line of a recipe's ValueError.
    assert "only rank 1 fails (raised on MPI rank 1)" in done.stderr
    assert records(folder) == []
    assert not list((folder / ".asr" / "locks").iterdir())


def test_a_myqueue_task_on_two_ranks(folder):
    """What MyQueue runs for a task with processes=2: its `parallel_python`."""
    import calls

    from asr.workflow.taskfiles import loader_name, task_file, write_task_file

    arguments = calls.energy.arguments(3.8)
    path = task_file(folder, "energy")
    write_task_file(path, calls.energy, arguments, calls.energy.terms(arguments))
    name = loader_name(calls.energy)
    task = ["python", "-m", "asr.workflow.task", name, str(path)]
    done = mpiexec(*task, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("computed and stored") == 1  # rank 0 alone reports
    assert len(list(folder.glob("ran-on-rank-*"))) == 2
    [record] = records(folder)
    assert record.metadata["mpi_ranks"] == 2
    again = mpiexec(*task, cwd=folder)
    assert again.stdout.count("was in the store") == 1


def test_a_gpaw_without_mpi_under_mpiexec_is_one_red_line(folder, tmp_path_factory):
    # A GPAW built without MPI, as far as ASR asks: its C module says so.
    serial = tmp_path_factory.mktemp("serial-gpaw")
    (serial / "gpaw").mkdir()
    (serial / "gpaw" / "__init__.py").write_text("GPAW_MPI_BACKEND = None\n")
    (serial / "gpaw" / "cgpaw.py").write_text("have_mpi = False\n")
    done = mpiexec("asr", "run", "calls:energy --a 3.9", cwd=folder, pythonpath=serial)
    assert done.returncode == 1
    assert done.stderr.count("Error: started by an MPI launcher") == 1
    assert "Traceback" not in done.stderr
    assert "make install" in done.stderr


SI_LCAO = {
    "name": "gpaw",
    "mode": "lcao",
    "basis": "dzp",
    "h": 0.3,
    "xc": "PBE",
    "kpts": {"size": [3, 3, 3], "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
    "txt": None,
}


@pytest.mark.gpaw
@pytest.mark.slow
def test_gpaw_ground_state_and_band_structure_on_two_ranks(folder):
    from ase.build import bulk

    bulk("Si").write(folder / "structure.json")
    calculator = json.dumps(SI_LCAO)
    bands = f"asr.bandstructure --calculator '{calculator}' --npoints 20"
    first = mpiexec("asr", "run", bands, cwd=folder, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("Computed in") == 1
    stored = {r.name: r for r in records(folder)}
    # The spin axis of spin-orbit coupling comes from the magnetic anisotropy
    # (which asks asr.magstate): for Si, spins along z, but it is asked.
    assert sorted(stored) == [
        "asr.bandstructure",
        "asr.gs",
        "asr.magnetic_anisotropy",
        "asr.magstate",
    ]
    gs, bs = stored["asr.gs"], stored["asr.bandstructure"]
    assert gs.uid in [d.uid for d in bs.dependencies]
    assert all(record.metadata["mpi_ranks"] == 2 for record in stored.values())
    again = mpiexec("asr", "run", bands, cwd=folder, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Found in the store") == 1
    assert len(records(folder)) == len(stored)
    assert not list((folder / ".asr" / "locks").iterdir())
    assert fsck(open_store(folder)).ok
