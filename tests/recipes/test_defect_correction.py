"""The electrostatic models of the charged-defect correction against known limits."""

import numpy as np
import pytest
from ase.units import Bohr, Hartree

from asr.recipes.defect_correction import (
    SIGMA,
    Slab,
    SlabModel,
    bulk_lattice_energies,
    gaussian_planar_potential,
    planar_average_far,
)

MADELUNG_SC = 2.8373  # simple cubic, point charge in a neutralizing background


def self_energy(epsilon: float = 1.0) -> float:
    """Coulomb energy (eV) of a unit Gaussian of width σ alone in ε."""
    return Hartree / (2 * np.sqrt(np.pi) * SIGMA / Bohr * epsilon)


def test_bulk_lattice_energy_approaches_makov_payne():
    eps = 4.0
    errors = []
    for length in [6.0, 10.0, 15.0, 20.0]:
        isolated, periodic = bulk_lattice_energies(np.eye(3) * length, 1, eps)
        assert isolated == pytest.approx(self_energy(eps))
        makov_payne = MADELUNG_SC * Hartree / (2 * eps * length / Bohr)
        errors.append((isolated - periodic) / makov_payne - 1)
    # The Gaussian's spread lowers E_lat by a term ∝ σ²/L³: 1/L² relatively.
    assert abs(errors[-1]) < 0.003
    assert np.all(np.diff(np.abs(errors)) < 0)
    assert errors[0] * 6**2 == pytest.approx(errors[-1] * 20**2, rel=0.05)
    # Twice the charge, four times the energy; q² in both terms.
    isolated2, periodic2 = bulk_lattice_energies(np.eye(3) * 10, 2, eps)
    isolated, periodic = bulk_lattice_energies(np.eye(3) * 10, 1, eps)
    assert isolated2 - periodic2 == pytest.approx(4 * (isolated - periodic))


def slab(length: float, eps=(10.0, 3.0), thickness: float = 4.0) -> SlabModel:
    cell = np.diag([6.0, 6.0, length])
    layer = Slab(*eps, center=length / 2, thickness=thickness)
    return SlabModel(cell, layer, z0=length / 2)


def test_uniform_slab_is_the_bulk_model():
    # A slab filling the cell is a uniform medium: GPAW's 3D Gaussian model.
    for eps in [1.0, 5.0]:
        model = slab(12.0, (eps, eps), thickness=100.0)
        _, periodic = bulk_lattice_energies(np.diag([6.0, 6.0, 12.0]), 1, eps)
        assert model.periodic_energy() == pytest.approx(periodic, rel=1e-3)
        n = 48
        potential = np.interp(
            np.arange(n) / n * model.length,
            model.z,
            model.periodic_potential() * Hartree,
            period=model.length,
        )
        cell = np.diag([6.0, 6.0, 12.0])
        planar = gaussian_planar_potential(cell, 0.5, SIGMA, eps, n)
        assert potential == pytest.approx(planar, abs=2e-3 / eps)


def test_isolated_charge_in_vacuum_and_in_a_thick_layer():
    # ε = 1: the open boundaries are exact, E_iso is the Gaussian's self-energy.
    assert slab(12.0, (1.0, 1.0)).isolated_energy() == pytest.approx(
        self_energy(), rel=1e-3
    )
    # Inside a layer of ε = 5 as thick as d the charge's images in its
    # surfaces add ∝ 1/d to the bulk value.
    excess = [
        slab(d + 10, (5.0, 5.0), thickness=d).isolated_energy() - self_energy(5.0)
        for d in [20.0, 40.0, 80.0]
    ]
    assert all(e > 0 for e in excess)
    assert excess[1] / excess[0] == pytest.approx(0.5, abs=0.05)
    assert excess[2] / excess[1] == pytest.approx(0.5, abs=0.05)


def test_charged_layer_energy_grows_linearly_with_the_vacuum():
    lengths = np.array([20.0, 30.0, 40.0, 60.0, 80.0])
    models = [slab(length) for length in lengths]
    periodic = np.array([m.periodic_energy() for m in models])
    isolated = np.array([m.isolated_energy() for m in models])
    # E_iso is the layer's alone: no vacuum in it.
    assert isolated == pytest.approx(isolated[0], rel=1e-4)
    # E_per = a L + b + c / L with a = π q² / (6 A): a sheet of charge with its
    # background (hand computed: D(z) = 2π s (1 - 2|z|/L), energy ∫ D²/8π).
    fit = np.linalg.lstsq(
        np.column_stack([lengths, np.ones_like(lengths), 1 / lengths]),
        periodic,
        rcond=None,
    )[0]
    area = 36.0 / Bohr**2
    slope = np.pi / (6 * area) * Hartree / Bohr  # eV/Å
    assert fit[0] == pytest.approx(slope, rel=0.01)
    lattice = isolated - periodic
    assert np.all(np.diff(lattice) < 0) and lattice[-1] < -5 * slope


def test_alignment_reads_the_planes_far_from_the_defect():
    profile = np.zeros(16)
    profile[6:11] = 1.0  # far from s0 = 0: planes 6..10 (within 1/8 of 1/2)
    assert planar_average_far(profile, 0.0) == pytest.approx(1.0)
    assert planar_average_far(np.roll(profile, 8), 0.5) == pytest.approx(1.0)
