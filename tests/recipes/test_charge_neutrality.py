import numpy as np
import pytest
from ase.units import kB

from asr.recipes.charge_neutrality import (
    ChargedDefect,
    lowest_states,
    parabolic_levels,
    solve,
    transition_levels,
)

GAP = 1.0
CELL = 40.0  # Å³


def test_transition_levels_of_a_normal_and_a_negative_u_defect():
    # Lines +1: 0.5 + E, 0: 1.0, -1: 3.0 - E. (0/-) at 2.0 lies above the gap.
    assert transition_levels((-1, 0, 1), (3.0, 1.0, 0.5), 1.5) == [(1, 0, 0.5)]
    # +1: 0.2 + E, 0: 1.0, -1: 1.6 - E; (+/0) at 0.8 lies above (0/-) at 0.6:
    # the neutral state is never stable and (+/-) at 0.7 is the one level.
    (level,) = transition_levels((-1, 0, 1), (1.6, 1.0, 0.2), 1.5)
    assert level[:2] == (1, -1) and level[2] == pytest.approx(0.7)
    segments = lowest_states((-1, 0, 1), (1.6, 1.0, 0.2), 1.5)
    assert [q for _, _, q in segments] == [1, -1]
    assert segments[-1][1] == 1.5


def test_intrinsic_fermi_level_follows_the_masses():
    # Non-degenerate bands: E_F = gap/2 + (3/4) kT ln(m_h/m_e).
    for temperature in (300.0, 600.0):
        levels = parabolic_levels(GAP, hole_mass=2.0, electron_mass=0.5, size=CELL)
        state = solve([], levels, temperature)
        expected = GAP / 2 + 0.75 * kB * temperature * np.log(4.0)
        assert state.fermi_level == pytest.approx(expected, abs=2e-4)
        assert state.electrons == pytest.approx(state.holes, rel=1e-4)


def test_donor_and_acceptor_symmetric_about_midgap():
    levels = parabolic_levels(GAP, 1.0, 1.0, CELL)
    # ε(+/0) = 0.7 and ε(0/-) = 0.3: mirror images about mid-gap.
    donor = ChargedDefect("D", (0, 1), (0.8, 0.8 - 0.7))
    acceptor = ChargedDefect("A", (-1, 0), (0.8 + 0.3, 0.8))
    state = solve([donor, acceptor], levels, 300.0)
    assert state.fermi_level == pytest.approx(GAP / 2, abs=1e-6)
    c_donor, c_acceptor = state.concentrations
    assert c_donor[1] == pytest.approx(c_acceptor[0], rel=1e-5)


def test_a_shallow_donor_pins_the_fermi_level_near_the_cbm():
    levels = parabolic_levels(GAP, 1.0, 0.3, CELL)
    # Neutral donor at 0.3 eV; ε(+/0) 0.05 eV below the CBM.
    donor = ChargedDefect("D", (0, 1), (0.3, 0.3 - (GAP - 0.05)))
    state = solve([donor], levels, 300.0)
    assert GAP - 0.15 < state.fermi_level < GAP
    (c,) = state.concentrations
    # Neutral: every electron in the conduction band came from a donor.
    assert state.electrons == pytest.approx(c[1] + state.holes, rel=1e-5)
    assert state.holes < 1e-10 * state.electrons


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        solve([], parabolic_levels(GAP, 1.0, 1.0, CELL), 0.0)
