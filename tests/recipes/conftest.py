"""Materials and tiny GPAW settings shared by the electronic-structure tests.

The band structure, DOS, PDOS, effective-mass, ... recipes all start from the
same `asr.gs` Record of a material. They share one store for the whole test
session, so each ground state is computed once and every later recipe gets it
as a cache hit (which is what the store is for). A test that needs a store of
its own uses the `store` fixture instead.

LCAO with a double-zeta-polarised basis: the non-self-consistent band
calculations are then a single diagonalisation per k-point, and MoS2 comes
out with the right physics (direct gap at K, spin-orbit split valence band).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ase import Atoms
from ase.build import bulk, mx2
from gpaw_settings import lcao

from asr.core import use_store
from asr.store import init_store


@dataclass
class Material:
    atoms: Atoms
    calculator: dict


@pytest.fixture(scope="session")
def _shared_store(tmp_path_factory):
    return init_store(tmp_path_factory.mktemp("electronic-store"))


@pytest.fixture
def shared_store(_shared_store):
    """A store shared by the whole session: ground states are computed once."""
    with use_store(_shared_store):
        yield _shared_store


def non_magnetic(atoms):
    """`atoms` with zero initial moments: known non-magnetic, computed
    spin-paired at once (without them the ground state first probes a
    ferromagnetic start; tests of that protocol build their own atoms)."""
    atoms.set_initial_magnetic_moments([0.0] * len(atoms))
    return atoms


@pytest.fixture
def mos2() -> Material:
    # The K point of the hexagonal cell is on a 6x6 grid.
    return Material(non_magnetic(mx2("MoS2", vacuum=4.0)), lcao([6, 6, 1]))


@pytest.fixture
def si() -> Material:
    return Material(non_magnetic(bulk("Si")), lcao([4, 4, 4]))


@pytest.fixture
def fe() -> Material:
    atoms = bulk("Fe")
    atoms.set_initial_magnetic_moments([2.3])
    return Material(atoms, lcao([6, 6, 6]))


@pytest.fixture
def bn_nlo_store(tmp_path_factory):
    """One store for the SHG and shift-current tests of cubic BN: the wave
    functions (`nlo_settings`) are computed once, by whichever runs first."""
    store = init_store(tmp_path_factory.getbasetemp() / "asr-cubic-bn-nlo")
    with use_store(store):
        yield store
