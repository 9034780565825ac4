import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, mx2
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.io import Trajectory, read, write
from gpaw_settings import lcao, tiny_pw

from asr.core import use_store
from asr.recipes.common import gpaw_spec_for
from asr.recipes.gs import gs_spec
from asr.recipes.relax import (
    RelaxNotConvergedError,
    magnetic_state,
)
from asr.recipes.relax import main as relax
from asr.store import init_store

EMT_SPEC = {"name": "emt"}


def emt_lattice_constant(symbol: str) -> float:
    """The fcc lattice constant of EMT from an equation of state."""
    volumes, energies = [], []
    for a in np.linspace(0.98, 1.02, 7) * 3.6:
        atoms = bulk(symbol, "fcc", a=a)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0 = EquationOfState(volumes, energies).fit()[0]
    return (4 * v0) ** (1 / 3)


def strained_copper():
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    return atoms


def test_strained_copper_reaches_emt_lattice_constant(store, tmp_path):
    result = relax(bulk("Cu", "fcc", a=3.75, cubic=True), calculator=EMT_SPEC).result
    a0 = emt_lattice_constant("Cu")
    assert result.a == pytest.approx(a0, rel=1e-3)
    assert result.b == pytest.approx(a0, rel=1e-3)
    assert result.alpha == pytest.approx(90)
    assert result.fmax < 0.01 and result.smax < 0.0005
    assert result.nsteps > 0 and result.resumed_steps == 0
    assert result.magstate is None  # EMT gives no magnetic moments
    assert len(read(result.trajectory.path, ":")) == result.nsteps + 1
    assert result.atoms.calc is None and not result.atoms.constraints
    assert result.database_keys()["a"] == result.a
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_positions_only_and_unconverged(store):
    atoms = strained_copper()
    with pytest.raises(RelaxNotConvergedError, match="larger max_steps"):
        relax(atoms, calculator=EMT_SPEC, fix_cell=True, max_steps=2)
    result = relax(atoms, calculator=EMT_SPEC, fix_cell=True).result
    assert np.allclose(result.atoms.cell, atoms.cell)
    assert result.fmax < 0.01
    assert result.resumed_steps == 2  # continued the unfinished run


def test_2d_keeps_vacuum(store):
    atoms = fcc111("Cu", size=(1, 1, 1), vacuum=6.0, a=3.8)
    assert tuple(atoms.pbc) == (True, True, False)
    result = relax(atoms, calculator=EMT_SPEC).result
    relaxed = result.atoms
    assert np.allclose(relaxed.cell[2], atoms.cell[2])
    assert np.allclose(relaxed.cell[:2, 2], 0)
    assert result.a < atoms.cell.lengths()[0] - 0.02  # the layer shrank in plane
    assert result.c == pytest.approx(atoms.cell.lengths()[2])


def test_1d_and_0d(store):
    wire = Atoms("Cu", cell=[8.0, 8.0, 2.45], pbc=[False, False, True])
    result = relax(wire, calculator=EMT_SPEC).result
    assert np.allclose(result.atoms.cell[:2], wire.cell[:2])
    assert 2.28 < result.c < 2.34  # only the length of the wire relaxed
    cluster = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 3.0]], cell=[8, 8, 8])
    result = relax(cluster, calculator=EMT_SPEC).result
    assert np.allclose(result.atoms.cell, cluster.cell)
    assert result.stress is None
    assert result.atoms.get_distance(0, 1) < 2.6


SCRIPT = textwrap.dedent(
    """
    import time
    from ase.calculators.emt import EMT
    from ase.io import read

    calculate = EMT.calculate

    def slow(self, *args, **kwargs):
        time.sleep(0.1)
        calculate(self, *args, **kwargs)

    EMT.calculate = slow

    from asr.recipes.relax import main as relax

    relax(read("start.traj"), calculator={"name": "emt"})
    """
)


def images_written(folder) -> int:
    paths = list(folder.glob("relax-*.traj"))
    if not paths:
        return 0
    try:
        with Trajectory(str(paths[0])) as trajectory:
            return len(trajectory)
    except Exception:
        return 0


def test_killed_relaxation_continues(store, tmp_path):
    atoms = strained_copper()
    # A reference run from scratch, in a store and folder of its own.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    os.chdir(fresh)
    with use_store(init_store(fresh)):
        steps_from_scratch = relax(atoms, calculator=EMT_SPEC).result.nsteps
    os.chdir(tmp_path)

    write(tmp_path / "start.traj", atoms)
    (tmp_path / "run.py").write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "run.py"], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while images_written(tmp_path) < 6:
        assert process.poll() is None, "the relaxation ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = images_written(tmp_path) - 1
    assert relax.lookup(relax.arguments(atoms, EMT_SPEC)) is None

    result = relax(atoms, calculator=EMT_SPEC).result
    assert result.resumed_steps == done_before >= 5
    new_steps = result.nsteps - result.resumed_steps
    assert new_steps < steps_from_scratch
    assert result.a / 2 == pytest.approx(emt_lattice_constant("Cu"), rel=2e-3)


def test_magnetic_state():
    assert magnetic_state(None, None) is None
    assert magnetic_state(0.0, np.array([0.01, -0.02])) == "nm"
    assert magnetic_state(2.0, np.array([1.0, 1.0])) == "fm"
    assert magnetic_state(0.0, np.array([1.0, -1.0])) == "afm"


TINY_GPAW = tiny_pw([2, 2, 2])


@pytest.mark.gpaw
def test_vanishing_magnetic_moments_are_reported(store):
    atoms = bulk("Si")
    atoms.set_initial_magnetic_moments([0.5, 0.5])
    result = relax(atoms, calculator=TINY_GPAW, fix_cell=True).result
    assert result.magstate == "nm"
    assert "non-magnetic" in result.note
    assert abs(result.magmom) < 0.1
    # Zero moments, not none: asr.gs computes it spin-paired without probing.
    assert result.atoms.has("initial_magmoms")
    assert not result.atoms.get_initial_magnetic_moments().any()


@pytest.mark.gpaw
def test_silicon_pbe_lattice_constant(store):
    calculator = tiny_pw(3.0, ecut=300)
    result = relax(bulk("Si", a=5.43), calculator=calculator).result
    a = result.a * 2**0.5  # primitive fcc cell: a_cubic = √2 a
    assert a == pytest.approx(5.47, rel=0.005)
    assert result.smax < 0.0005


def janus_mosse():
    """MoSSe: Se above, S below, so the layer has a dipole along z."""
    atoms = mx2("MoS2", vacuum=4.0)
    atoms.numbers[2] = 34
    return atoms


def test_2d_gpaw_specs_get_the_dipole_correction_of_gs():
    spec = lcao([3, 3, 1])
    assert gpaw_spec_for(janus_mosse(), spec) == gs_spec(janus_mosse(), spec)
    assert gpaw_spec_for(janus_mosse(), spec)["poissonsolver"] == {"dipolelayer": "xy"}
    assert "poissonsolver" not in gpaw_spec_for(bulk("Si"), spec)
    own = {**spec, "poissonsolver": {"dipolelayer": "xy", "width": 2.0}}
    assert gpaw_spec_for(janus_mosse(), own) == own
    assert gpaw_spec_for(janus_mosse(), EMT_SPEC) == EMT_SPEC


@pytest.mark.gpaw
def test_polar_layer_relaxes_with_the_hamiltonian_of_its_ground_state(store):
    from asr.recipes.gs import main as groundstate

    atoms = janus_mosse()
    spec = tiny_pw([2, 2, 1])
    # A loose fmax: the first image is converged, one self-consistent run.
    relaxed = relax(atoms, calculator=spec, fmax=10.0, fix_cell=True).result
    assert relaxed.fmax < 10.0
    gs = groundstate(atoms, spec).result
    # Without the dipole correction in relax the two differ by ~2 meV.
    assert relaxed.energy == pytest.approx(gs.energy, abs=1e-5)
    assert relaxed.forces == pytest.approx(gs.forces, abs=1e-4)


@pytest.mark.gpaw
def test_iron_given_without_moments_relaxes_ferromagnetic(store):
    atoms = bulk("Fe")
    atoms.set_initial_magnetic_moments(None)  # ASE's bulk Fe carries 2.3 μB
    result = relax(atoms, calculator=tiny_pw([3, 3, 3]), fix_cell=True).result
    assert result.magstate == "fm" and result.magmom > 1.5
    assert result.atoms.get_initial_magnetic_moments()[0] > 1.5
    assert result.note == ""


def test_lcao_cannot_relax_the_cell(store):
    # GPAW has no stress in LCAO mode: refused before any calculation.
    spec = lcao([2, 2, 2], basis="sz(dzp)")
    with pytest.raises(ValueError, match="no stress in lcao mode.*fix_cell=True"):
        relax(bulk("Si"), calculator=spec)


@pytest.mark.gpaw
def test_lcao_relaxes_positions_with_a_fixed_cell(store):
    # Si's forces vanish by symmetry: one spin-paired self-consistent run.
    spec = lcao([2, 2, 2], basis="sz(dzp)")
    result = relax(
        bulk("Si"), calculator=spec, fix_cell=True, fmax=0.05, magnetic=False
    ).result
    assert result.nsteps == 0 and result.stress is None
    assert np.allclose(result.atoms.cell, bulk("Si").cell)
