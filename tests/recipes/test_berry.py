from dataclasses import fields

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from gpaw_settings import tiny_pw

from asr.recipes.berry import (
    check_insulating,
    chern_number,
    topology_name,
    z2_index,
)
from asr.recipes.berry import main as berry
from asr.recipes.gs import GroundStateResult

TINY = tiny_pw([3, 3, 1], convergence={"bands": "occupied"}, nbands=-2)
NK = 12
K = np.arange(NK) / NK


def test_flat_phases_are_trivial():
    phi_km = np.tile([0.5, 0.5, 2.0, 2.0], (NK, 1))
    assert chern_number(phi_km) == 0 and z2_index(phi_km) == 0
    assert topology_name(0, 0) == "Trivial"


def test_a_winding_centre_is_a_chern_insulator():
    phi_km = np.stack([2 * np.pi * K, np.full(NK, 1.0)], axis=1)
    assert chern_number(phi_km) == 1
    assert chern_number(-phi_km) == -1
    assert topology_name(1, None) == "Chern insulator (C = 1)"


def test_partner_switching_pair_is_z2_odd():
    # Kramers pairs: degenerate at k = 0 and π, exchanging partners.
    up = np.pi * np.minimum(2 * K, 2 - 2 * K)
    odd = np.stack([up, -up], axis=1)
    assert z2_index(odd) == 1
    assert chern_number(odd) == 0
    assert topology_name(0, 1) == "Z2 topological insulator"
    # The same pair returning to its partner at π is even.
    even = np.stack([0.3 * np.sin(2 * np.pi * K), -0.3 * np.sin(2 * np.pi * K)], 1)
    assert z2_index(even) == 0
    with pytest.raises(ValueError, match="even"):
        z2_index(odd[:-1])


def ground_state(gap: float, gap_soc: float) -> GroundStateResult:
    blank = {f.name: None for f in fields(GroundStateResult)}
    return GroundStateResult(**{**blank, "gap": gap, "gap_soc": gap_soc})


def test_a_gap_opened_by_spin_orbit_coupling_is_a_gap():
    # Gapless without SOC, gapped with it: the quantum-spin-Hall candidates.
    check_insulating(ground_state(gap=0.0, gap_soc=0.02))
    check_insulating(ground_state(gap=1.2, gap_soc=1.1))
    with pytest.raises(ValueError, match="metal"):
        check_insulating(ground_state(gap=0.0, gap_soc=0.0))
    # SOC can close a gap too: the spinor phases then have none.
    with pytest.raises(ValueError, match="metal"):
        check_insulating(ground_state(gap=0.01, gap_soc=0.0))


@pytest.mark.gpaw
def test_boron_nitride_layer_is_trivial(store, tmp_path):
    a = 2.51
    layer = Atoms(
        "BN",
        scaled_positions=[[0, 0, 0.5], [1 / 3, 2 / 3, 0.5]],
        cell=[[a, 0, 0], [-a / 2, a * 3**0.5 / 2, 0], [0, 0, 7.0]],
        pbc=[True, True, False],
    )
    result = berry(layer, TINY, nk=4).result
    assert result.k == pytest.approx([0, 0.25, 0.5, 0.75])
    assert result.phi_km.shape == (4, 8)  # 8 valence spinors
    assert np.abs(result.s_km).max() <= 1.0 + 1e-6
    assert (result.chern, result.z2, result.topology) == (0, 0, "Trivial")
    (figure,) = result.figures(tmp_path)
    assert figure.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="2D"):
        berry(bulk("Si"), TINY)
