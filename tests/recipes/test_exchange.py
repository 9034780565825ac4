from dataclasses import replace

import pytest
from ase.build import bulk

from asr.recipes.exchange import (
    MIGRATIONS,
    ExchangeResult,
    anisotropy_parameters,
    curie_temperature,
    nearest_magnetic_neighbours,
    spin_wave_gap,
)
from asr.recipes.exchange import main as exchange


def test_bcc_neighbours_are_all_on_the_other_sublattice():
    atoms = bulk("Fe", cubic=True)
    neighbours = nearest_magnetic_neighbours(atoms, [0, 1])
    assert [len(neighbours[a]) for a in (0, 1)] == [8, 8]
    assert set(neighbours[0]) == {1} and set(neighbours[1]) == {0}


def test_anisotropy_from_the_energies_of_a_honeycomb_model():
    # S = 3/2, A = 0.1, λ = 0.05 meV; honeycomb afm: 3 antiparallel, 0 parallel.
    # fm:  A S(2S-1)/2 + ½ λ S² (0 + 3) = 0.15 + 0.16875 = 0.31875
    # afm: A S(2S-1)/2 + ½ λ S² (0 - 3) = 0.15 - 0.16875 = -0.01875
    A, lam = anisotropy_parameters(0.31875, -0.01875, 1.5, 3, 0)
    assert A == pytest.approx(0.1) and lam == pytest.approx(0.05)
    # Triangular (stripes): 4 antiparallel, 2 parallel; S = 1, A = 0.2, λ = -0.1.
    # fm:  0.2 * 1 * 1 / 2 + ½ (-0.1) (2 + 4) = 0.1 - 0.3 = -0.2
    # afm: 0.1 + ½ (-0.1) (2 - 4) = 0.1 + 0.1 = 0.2
    A, lam = anisotropy_parameters(-0.2, 0.2, 1.0, 4, 2)
    assert A == pytest.approx(0.2) and lam == pytest.approx(-0.1)


def test_a_spin_half_has_no_single_ion_anisotropy():
    # λ = (0.1 - (-0.1)) / (2 · ¼) = 0.4; A undefined for S = ½: zero.
    assert anisotropy_parameters(0.1, -0.1, 0.5, 2, 2) == (0.0, pytest.approx(0.4))


def test_spin_wave_gap_and_curie_temperature_of_a_cri3_like_magnet():
    # Δ = 0.1 (2 · 1.5 - 1) + 0.05 · 1.5 · 3 = 0.2 + 0.225 = 0.425 meV
    gap = spin_wave_gap(0.1, 0.05, 1.5, 3)
    assert gap == pytest.approx(0.425)
    # T_C^Ising = S² J 1.52 / k_B = 2.25 · 2 · 1.52 / 0.0861733 = 79.375 K;
    # x = Δ / (J(2S - 1)) = 0.425 / 4 = 0.10625;
    # f = tanh(6/3 ln(1 + 0.033 · 0.10625))^¼ = tanh(0.0070004)^¼ = 0.289257
    assert curie_temperature(2.0, gap, 1.5, 3) == pytest.approx(22.96, abs=0.01)
    # More neighbours, a larger Ising T_C: square 2.27, triangular 3.64.
    assert curie_temperature(2.0, gap, 1.5, 4) > curie_temperature(2.0, gap, 1.5, 3)
    # No gap (an easy plane) or no ferromagnetic coupling: no order.
    assert curie_temperature(2.0, -0.1, 1.5, 3) == 0.0
    assert curie_temperature(-2.0, gap, 1.5, 3) == 0.0
    with pytest.raises(ValueError, match="8 neighbours"):
        curie_temperature(2.0, gap, 1.5, 8)


def test_curie_temperature_of_cri3_as_in_olsens_exercise():
    # GPAW's CrI3 exercise (T. Olsen; the fit of Torelli & Olsen, 2D Mater. 6,
    # 015028 (2019)): converged J = 3.1 meV and A = -0.38 meV in its sign
    # (+A Σ (S^z)²), S = 3/2, honeycomb, give T_C = 36-37 K (experiment 45 K).
    gap = spin_wave_gap(0.38, 0.0, 1.5, 3)
    assert curie_temperature(3.1, gap, 1.5, 3) == pytest.approx(36.9, abs=0.1)


def test_a_spin_half_is_outside_the_curie_temperature_fit():
    assert curie_temperature(2.0, spin_wave_gap(0.0, 0.1, 0.5, 3), 0.5, 3) is None


def test_version_1_curie_temperatures_are_recomputed_by_a_migration():
    import numpy as np

    from asr.core import Record

    zeros = np.zeros(3)
    old = ExchangeResult(
        J=3.1, spin=1.5, N_nn=3, antiparallel_bonds=6, energy_fm=0.0,
        energy_afm=0.1, dE_afm_fm=27.9, magmoms_fm=zeros, magmoms_afm=zeros,
        magnetic_ground_state="fm", A=0.38, lam=0.0, spin_wave_gap=0.76,
        T_C=43.8, soc_energies_fm=zeros, soc_energies_afm=zeros,
    )  # fmt: skip
    (declared,) = MIGRATIONS
    migration = declared.migration
    record = Record("asr.exchange", 1, {}, old)
    assert declared.selector(record)
    migrated = migration(record)
    assert migrated.version == 2
    assert migrated.result.T_C == pytest.approx(36.9, abs=0.1)
    # A Record without T_C (a bulk magnet) keeps None.
    bulk_record = Record("asr.exchange", 1, {}, replace(old, T_C=None))
    assert migration(bulk_record).result.T_C is None


def test_one_magnetic_atom_cannot_be_antiferromagnetic(store):
    with pytest.raises(ValueError, match="two magnetic atoms"):
        exchange(bulk("Fe"), calculator={"name": "gpaw", "mode": "lcao"})


@pytest.mark.gpaw
@pytest.mark.slow
def test_iron_is_ferromagnetic(store):
    calculator = {
        "name": "gpaw",
        "mode": "lcao",
        "basis": "dzp",
        "h": 0.3,
        "xc": "PBE",
        "kpts": {"size": [4, 4, 4], "gamma": True},
        "occupations": {"name": "fermi-dirac", "width": 0.05},
        "txt": None,
    }
    record = exchange(bulk("Fe", cubic=True), calculator=calculator)
    result = record.result
    assert result.magnetic_ground_state == "fm"
    assert result.N_nn == 8 and result.antiparallel_bonds == 16
    # ~2.2 μB per atom in PBE (2.0 with this small basis); the afm state of
    # bcc iron lies ~0.4 eV per atom higher.
    assert 0.9 < result.spin < 1.2
    assert 200 < result.dE_afm_fm < 600
    assert 20 < result.J < 80
    # Cubic: spins along x, y and z cost nearly the same (bcc iron's
    # anisotropy is ~1 μeV per atom; this grid adds a few μeV of noise), and
    # a bulk magnet is outside the 2D fit for T_C.
    for energies in (result.soc_energies_fm, result.soc_energies_afm):
        assert energies == pytest.approx(energies[2], abs=0.01)
    assert abs(result.A) < 0.01 and abs(result.lam) < 0.01
    assert result.spin_wave_gap == pytest.approx(
        spin_wave_gap(result.A, result.lam, result.spin, 8)
    )
    assert result.T_C is None
    # Two magnetisations and two ground states behind it.
    assert len(record.dependencies) == 4
