"""The caching layer: hits, misses, tolerance, defaults, versions, failures."""

import dataclasses

import numpy as np
import pytest
from ase.build import bulk

from asr.core import (
    ArgumentError,
    InstructionError,
    Record,
    Result,
    instruction,
    key,
    register_dataclass,
)

calls: list[str] = []


@instruction("test.energy")
def energy(atoms, scale: float = 1.0, label: str = "x"):
    """EMT energy of a structure."""
    from ase.calculators.emt import EMT

    calls.append("energy")
    atoms = atoms.copy()
    atoms.calc = EMT()
    return {"energy": atoms.get_potential_energy() * scale}


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def test_hit_returns_same_record(store):
    atoms = bulk("Cu", cubic=True)
    first = energy(atoms)
    second = energy(atoms)
    assert isinstance(first, Record)
    assert first.uid == second.uid and first.oid == second.oid
    assert calls == ["energy"]
    assert second.result["energy"] == pytest.approx(first.result["energy"])


def test_defaults_are_part_of_the_arguments(store):
    atoms = bulk("Cu", cubic=True)
    a = energy(atoms)
    b = energy(atoms, scale=1.0, label="x")
    c = energy(atoms, 1.0)
    assert a.uid == b.uid == c.uid
    assert a.arguments["scale"] == 1.0 and a.arguments["label"] == "x"
    assert calls == ["energy"]


@pytest.mark.parametrize(
    "shift, hit", [(1e-12, True), (1e-11, True), (1e-6, False), (1e-3, False)]
)
def test_atoms_tolerance(store, shift, hit):
    atoms = bulk("Cu", cubic=True)
    first = energy(atoms)
    moved = atoms.copy()
    moved.positions[1] += shift
    assert (energy(moved).uid == first.uid) is hit
    assert len(calls) == (1 if hit else 2)


@pytest.mark.parametrize("scale, hit", [(1 + 1e-12, True), (1 + 1e-5, False)])
def test_float_tolerance(store, scale, hit):
    atoms = bulk("Cu", cubic=True)
    assert (energy(atoms, 1.0).uid == energy(atoms, scale).uid) is hit


def test_other_arguments_miss(store):
    atoms = bulk("Cu", cubic=True)
    energy(atoms)
    energy(atoms, label="y")
    energy(bulk("Cu", cubic=True).repeat((2, 1, 1)))
    other = bulk("Cu", cubic=True)
    other.set_initial_magnetic_moments([1.0] * len(other))
    energy(other)
    assert len(calls) == 4


@instruction("test.settings")
def settings(calculator: dict):
    """Echo a calculator specification."""
    calls.append("settings")
    return {"n": len(calculator)}


def test_same_call_however_spelled(store):
    """Key order and numpy scalars are not part of a call: both hit."""
    first = settings(
        {"mode": "pw", "ecut": 300.0, "kpts": {"density": 2.0, "gamma": True}}
    )
    again = settings(
        {
            "kpts": {"gamma": True, "density": np.float64(2.0)},
            "ecut": np.float32(300),
            "mode": "pw",
        }
    )
    assert again.uid == first.uid
    assert (
        settings(
            {
                "mode": "pw",
                "ecut": 300.0,
                "kpts": {"density": 2.0, "gamma": np.bool_(True)},
            }
        ).uid
        == first.uid
    )
    assert calls == ["settings"]
    settings({"mode": "pw", "ecut": 300.0, "kpts": {"density": 2.5, "gamma": True}})
    assert calls == ["settings", "settings"]


def test_version_bump_misses(store):
    atoms = bulk("Cu", cubic=True)

    def make(version):
        @instruction("test.versioned", version=version)
        def versioned(atoms):
            calls.append(f"v{version}")
            return version

        return versioned

    assert make(0)(atoms).result == 0
    assert make(1)(atoms).result == 1
    assert make(0)(atoms).result == 0
    assert calls == ["v0", "v1"]


def test_per_instruction_tolerance(store):
    @instruction("test.loose", atol=1e-3, rtol=0)
    def loose(x: float):
        calls.append("loose")
        return x

    assert loose(1.0).uid == loose(1.0005).uid
    assert loose(1.0).uid != loose(1.01).uid


def test_failure_stores_nothing_and_reraises(store):
    attempts = []

    @instruction("test.flaky")
    def flaky(n: int):
        attempts.append(n)
        if len(attempts) == 1:
            raise RuntimeError("SCF did not converge")
        return n

    with pytest.raises(RuntimeError, match="SCF"):
        flaky(3)
    assert list(store.iter_refs()) == []
    assert flaky(3).result == 3
    assert attempts == [3, 3]


def test_unstorable_argument_names_it(store):
    @instruction("test.takes_anything")
    def takes(thing, n: int = 1):
        return n

    with pytest.raises(ArgumentError, match="'thing'.*object"):
        takes(object())


def test_bad_call_is_argument_error(store):
    with pytest.raises(ArgumentError, match="unexpected keyword"):
        energy(bulk("Cu"), nonsense=1)


def test_recursion_with_same_arguments_is_an_error(store):
    @instruction("test.forever")
    def forever(n: int):
        return forever(n).result

    with pytest.raises(InstructionError, match="calls itself"):
        forever(1)


def test_recursive_recipe(store):
    @instruction("test.fib")
    def fib(n: int):
        if n < 2:
            return n
        return fib(n - 1).result + fib(n - 2).result

    record = fib(10)
    assert record.result == 55
    assert {
        store.head(d.uid).payload["arguments"]["n"] for d in record.dependencies
    } == {
        8,
        9,
    }


def test_dependencies_three_levels(store):
    @instruction("test.level3")
    def level3(x: int):
        return x

    @instruction("test.level2")
    def level2(x: int):
        return level3(x).result + 1

    @instruction("test.level1")
    def level1(x: int):
        level3(x)  # also used directly
        return level2(x).result + 1

    top = level1(1)
    l2 = level2(1)
    l3 = level3(1)
    assert top.result == 3
    assert {d.uid for d in top.dependencies} == {l2.uid, l3.uid}
    assert [d.uid for d in l2.dependencies] == [l3.uid]
    assert l3.dependencies == []
    # Revisions are exact: the dependency names the revision object used.
    assert {d.revision for d in top.dependencies} == {l2.oid, l3.oid}


def test_hit_inside_instruction_is_a_dependency(store):
    @instruction("test.base")
    def base(x: int):
        return x

    @instruction("test.user")
    def user(x: int):
        return base(x).result

    first = base(2)
    assert [d.uid for d in user(2).dependencies] == [first.uid]


def test_metadata(store):
    record = energy(bulk("Cu", cubic=True))
    meta = record.metadata
    for package in ("python", "asr", "ase", "numpy"):
        assert package in meta["versions"]
    assert meta["wall_time"] >= 0 and meta["end"] >= meta["start"]
    assert meta["mpi_ranks"] == 1 and meta["cores"] >= 1 and meta["host"]


@register_dataclass
@dataclasses.dataclass
class Settings:
    ecut: float
    kpts: tuple


@dataclasses.dataclass
class EnergyResult(Result):
    title = "Energy"
    energy: float = dataclasses.field(metadata=key("Total energy", "eV", database=True))
    forces: np.ndarray = dataclasses.field(metadata=key("Forces", "eV/Å"))


def test_dataclass_arguments_and_results_round_trip(store):
    @instruction("test.settings")
    def run(settings: Settings):
        calls.append("run")
        return EnergyResult(energy=settings.ecut / 100, forces=np.zeros((2, 3)))

    record = run(Settings(500.0, (4, 4, 1)))
    assert run(Settings(500.0, (4, 4, 1))).uid == record.uid
    again = Record.from_stored(store.head(record.uid))
    assert isinstance(again.result, EnergyResult)
    assert again.result.energy == 5.0
    assert again.arguments["settings"] == Settings(500.0, (4, 4, 1))
    assert again.result.database_keys() == {"energy": 5.0}
    assert "Total energy" in again.result._repr_html_()
    assert "test.settings" in again._repr_html_()
    assert calls == ["run"]
