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
    vacuum_charge,
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


def test_dipole_layer_cancels_the_dipole_of_a_charge_off_the_middle():
    # GPAW's dipole layer (asr.gs's 2D default) takes the cell's dipole about
    # its middle: none for a charge there, q δ for one δ off it, whose field
    # it cancels at the energy cost 2π (q δ)² / V. Without the layer E_per
    # does not depend on where the charge sits.
    cell = np.diag([6.0, 6.0, 12.0])

    def model(z0, dipole_layer, eps=(1.0, 1.0)):
        layer = Slab(*eps, center=z0, thickness=3.0)
        return SlabModel(cell, layer, z0=z0, dipole_layer=dipole_layer)

    middle, plain = model(6.0, 1.0), model(6.0, None)
    assert middle.periodic_energy() == pytest.approx(plain.periodic_energy())
    assert middle.periodic_potential() == pytest.approx(
        plain.periodic_potential(), abs=1e-9
    )
    delta = 2.0
    shifted, periodic = model(6.0 + delta, 1.0), model(6.0 + delta, None)
    assert periodic.periodic_energy() == pytest.approx(plain.periodic_energy())
    volume = 6.0 * 6.0 * 12.0 / Bohr**3
    dipole_energy = 2 * np.pi * (delta / Bohr) ** 2 / volume * Hartree
    assert shifted.periodic_energy() - periodic.periodic_energy() == pytest.approx(
        dipole_energy, rel=0.02
    )
    # The field vanishes at the cell's boundary (z = 0), just outside the
    # smoothed layer: the potential is flat there but for the background.
    phi = shifted.periodic_potential() * Hartree
    u = (shifted.z * Bohr) % 12.0  # Å
    near = [np.argmin(abs(u - x)) for x in (0.6, 0.7, 11.3, 11.4)]
    field_below = (phi[near[1]] - phi[near[0]]) / 0.1
    field_above = (phi[near[3]] - phi[near[2]]) / 0.1
    background = 4 * np.pi * Hartree * Bohr / (6.0 * 6.0 * 12.0)  # V/Å², q = 1
    assert field_below == pytest.approx(0.65 * background, rel=1e-3)
    assert field_above == pytest.approx(-0.65 * background, rel=1e-3)
    # A screening layer takes part of the step: the dipole it cancels is
    # the charge's and the layer's together, so the cost is smaller.
    screened = model(6.0 + delta, 1.0, eps=(4.0, 3.0))
    screened_plain = model(6.0 + delta, None, eps=(4.0, 3.0))
    extra = screened.periodic_energy() - screened_plain.periodic_energy()
    assert 0 < extra < dipole_energy


def test_vacuum_charge_finds_electrons_spilled_into_the_vacuum():
    # A computed cell that holds 0.2 of the -1 defect charge in a cloud in
    # the middle of the vacuum: the residual's curvature there is that cloud.
    cell = np.diag([6.0, 6.0, 16.0])
    layer = Slab(4.0, 2.0, center=8.0, thickness=3.3)
    defect = SlabModel(cell, layer, z0=8.0)
    cloud = SlabModel(cell, layer, z0=0.0, sigma=1.0)
    n = 320
    grid = np.arange(n) / n * defect.length

    def on_grid(model):
        phi = model.periodic_potential() * Hartree
        return np.interp(grid, model.z % model.length, phi, period=model.length)

    model = -1.0 * on_grid(defect)
    spilled = -0.2
    computed = (-1.0 - spilled) * on_grid(defect) + spilled * on_grid(cloud)
    assert vacuum_charge(cell, model - computed, layer) == pytest.approx(
        spilled, abs=0.005
    )
    assert vacuum_charge(cell, model - model, layer) == 0.0
    # The same with the cloud across the dipole layer at z = 0.
    assert vacuum_charge(cell, model - computed, layer, 1.0) == pytest.approx(
        spilled, abs=0.02
    )
