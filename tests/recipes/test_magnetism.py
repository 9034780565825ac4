"""Where the spins start (`asr.recipes.magnetism`): the C2DB protocol."""

import numpy as np
from ase.build import bulk

from asr.recipes.magnetism import FERROMAGNETIC_START, starting_moments

GPAW = {"name": "gpaw"}


def test_a_structure_without_moments_starts_ferromagnetic_in_gpaw_only():
    atoms = bulk("Si")
    assert np.allclose(starting_moments(atoms, None, GPAW), FERROMAGNETIC_START)
    assert starting_moments(atoms, None, {"name": "emt"}) is None
    assert starting_moments(atoms, False, GPAW) is None


def test_moments_given_are_kept_and_zeros_mean_non_magnetic():
    atoms = bulk("Si")
    atoms.set_initial_magnetic_moments([0.5, -0.5])
    assert np.allclose(starting_moments(atoms, None, GPAW), [0.5, -0.5])
    # Zeros are an answer (a relaxation found it, or the user said so): the
    # ground state runs spin-paired at once instead of probing again.
    atoms.set_initial_magnetic_moments([0.0, 0.0])
    assert starting_moments(atoms, None, GPAW) is None
    forced = starting_moments(atoms, True, GPAW)  # magnetic=True: probe anyway
    assert np.allclose(forced, FERROMAGNETIC_START)
