"""Nearest-neighbour exchange coupling from ferro- and antiferromagnetic energies.

The structure must hold exactly two magnetic atoms of one element
(`asr.setup.magnetize` says which atoms are magnetic). Their moments are set
parallel and antiparallel (`asr.setup.magnetize` with "fm" and "afm") and the
ground state of each is computed (`asr.gs`). With the classical Heisenberg
model

    E = E₀ - ½ Σ_{i≠j} J S_i · S_j   (J > 0: ferromagnetic)

restricted to nearest magnetic neighbours, the energy difference per cell is
E_afm - E_fm = J S² n, where n counts, over the magnetic atoms of the cell,
their nearest magnetic neighbours with the opposite moment in the
antiferromagnetic state, and S = m/2 is the spin of one atom from its moment
m (μB) in the ferromagnetic state. So J = (E_afm - E_fm) / (n S²).

Spin-orbit coupling adds, as in the C2DB (Torelli & Olsen, 2D Mater. 6,
015028 (2019); Olsen, MRS Commun. 9, 1142 (2019)), a single-ion anisotropy
A and an anisotropic exchange λ:

    E = E₀ - ½ Σ_{i≠j} (J S_i · S_j + λ S_i^z S_j^z) - Σ_i A (S_i^z)²

Both follow from the spin-orbit energies of the fm and afm states with the
spins along z and in the plane (the mean of x and y), by the magnetic force
theorem (`asr.magnetic_anisotropy`'s `soc_energies`), see
`anisotropy_parameters`. A, λ > 0 favour spins along z. They open the gap
of the spin waves, Δ = A(2S - 1) + λ S N_nn, without which a 2D magnet has
no order at finite temperature (Mermin-Wagner). For a 2D ferromagnet on a
honeycomb, square or triangular lattice the Curie temperature is estimated
from Torelli & Olsen's fit to Monte Carlo simulations of this model,
T_C = T_C^Ising f(Δ / (J(2S - 1))), see `curie_temperature`. With the
single-ion anisotropy alone the argument is A/J, the form of Olsen's
CrI3 exercise in GPAW's documentation, whose converged J = 3.1 meV and
A = 0.38 meV (S = 3/2) give T_C ≈ 37 K; version 1 had the argument Δ/J, a
factor 2S - 1 too large, and a migration recomputes T_C from its Records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from ase import Atoms, units

from asr.core import Result, instruction, key
from asr.core.migration import Migration, MigrationSelector, Selector

from .common import DEFAULT_GPAW, dimensionality
from .gs import main as groundstate
from .setup.magnetize import magnetic_atoms
from .setup.magnetize import main as magnetize
from .spinaxis import soc_energies

# Moments (μB) below this count as zero: a collapsed magnetic state.
MOMENT_THRESHOLD = 0.1
# Neighbours up to this factor times the nearest distance count as nearest.
NEIGHBOUR_TOLERANCE = 1.05
# Boltzmann's constant in meV/K.
KB = 1000 * units.kB
# Critical temperatures of the 2D Ising model with spins ±1 and
# H = -½ Σ_{i≠j} J σ_i σ_j, in J/k_B, by the number of nearest neighbours:
# honeycomb 2/ln(2 + √3), square 2/ln(1 + √2), triangular 4/ln 3 (Onsager and
# after); Torelli & Olsen's T̃_C^Ising rounded as there.
ISING_TC = {3: 1.52, 4: 2.27, 6: 3.64}
# The constant γ of Torelli & Olsen's fit f(x) = tanh^¼(6/N_nn ln(1 + γx)).
GAMMA_FIT = 0.033


@dataclass
class ExchangeResult(Result):
    title = "Exchange coupling"
    J: float = field(
        metadata=key(
            "Nearest-neighbour exchange coupling J (Heisenberg, -½ Σ J S_i·S_j; "
            "J > 0: ferromagnetic)",
            "meV",
            database=True,
        )
    )
    spin: float = field(
        metadata=key(
            "Spin S of a magnetic atom (half its moment in fm)", "ħ", database=True
        )
    )
    N_nn: int = field(
        metadata=key(
            "Number of nearest magnetic neighbours of a magnetic atom", database=True
        )
    )
    antiparallel_bonds: int = field(
        metadata=key(
            "Nearest-neighbour bonds from the cell's magnetic atoms that are "
            "antiparallel in the afm state"
        )
    )
    energy_fm: float = field(metadata=key("Energy of the ferromagnetic state", "eV"))
    energy_afm: float = field(
        metadata=key("Energy of the antiferromagnetic state", "eV")
    )
    dE_afm_fm: float = field(
        metadata=key(
            "Energy of the afm state above the fm state, per magnetic atom",
            "meV",
            database=True,
        )
    )
    magmoms_fm: np.ndarray = field(metadata=key("Moments in the fm state", "μB"))
    magmoms_afm: np.ndarray = field(metadata=key("Moments in the afm state", "μB"))
    magnetic_ground_state: str = field(
        metadata=key("The lower of the two states: 'fm' or 'afm'", database=True)
    )
    A: float = field(
        metadata=key(
            "Single-ion anisotropy A (-Σ A (S_i^z)²; A > 0: spins along z)",
            "meV",
            database=True,
        )
    )
    lam: float = field(
        metadata=key(
            "Anisotropic exchange λ (-½ Σ λ S_i^z S_j^z; λ > 0: spins along z)",
            "meV",
            database=True,
        )
    )
    spin_wave_gap: float = field(
        metadata=key(
            "Spin-wave gap Δ = A(2S - 1) + λ S N_nn of the fm state (< 0: easy plane)",
            "meV",
            database=True,
        )
    )
    T_C: float | None = field(
        metadata=key(
            "Curie temperature of the model (Torelli & Olsen's fit; None when "
            "it does not apply: not a 2D ferromagnet on a honeycomb, square or "
            "triangular lattice, or a spin ½)",
            "K",
            database=True,
        )
    )
    soc_energies_fm: np.ndarray = field(
        metadata=key(
            "Spin-orbit energies of the fm state, spins along x, y, z, per cell",
            "meV",
        )
    )
    soc_energies_afm: np.ndarray = field(
        metadata=key(
            "Spin-orbit energies of the afm state, spins along x, y, z, per cell",
            "meV",
        )
    )


def nearest_magnetic_neighbours(
    atoms: Atoms, magnetic: list[int]
) -> dict[int, list[int]]:
    """For each magnetic atom, its nearest magnetic neighbours (images included).

    Neighbours are listed by atom index, once per periodic image.
    """
    from ase.neighborlist import neighbor_list

    cutoff = 3.0
    while True:
        i, j, d = neighbor_list("ijd", atoms, cutoff)
        pairs = np.isin(i, magnetic) & np.isin(j, magnetic) & (d > 1e-6)
        if pairs.any():
            break
        if cutoff > 50:
            raise ValueError("the magnetic atoms are more than 50 Å apart")
        cutoff *= 1.5
    nearest = d[pairs].min() * NEIGHBOUR_TOLERANCE
    found = {a: [] for a in magnetic}
    for a, b, distance in zip(i[pairs], j[pairs], d[pairs], strict=True):
        if distance <= nearest:
            found[int(a)].append(int(b))
    return found


def check_state(name: str, magmoms: np.ndarray, expected: np.ndarray) -> None:
    """The computed moments keep the signs of the initial ones, and are not zero."""
    if np.any(np.abs(magmoms) < MOMENT_THRESHOLD) or np.any(
        np.sign(magmoms) != np.sign(expected)
    ):
        raise ValueError(
            f"the {name} state did not survive the ground-state calculation "
            f"(moments {np.round(magmoms, 2).tolist()} μB): no exchange coupling "
            "can be read from it"
        )


def anisotropy_parameters(
    dE_fm: float, dE_afm: float, spin: float, n_afm: float, n_fm: float
) -> tuple[float, float]:
    """(A, λ) from the in-plane-minus-z energies per magnetic atom (any unit).

    `dE_fm` and `dE_afm` are E(spins in plane) - E(spins along z) of the fm
    and afm states; each magnetic atom has `n_afm` nearest neighbours of
    opposite and `n_fm` of the same moment in the afm state. With the spins
    along z a spin S has ⟨(S^z)²⟩ = S², in the plane S/2, so the model gives
    dE = A S(2S - 1)/2 + ½ λ S² (n_fm ± n_afm) (+ for fm, - for afm). A spin
    ½ has no single-ion anisotropy: A = 0 when S rounds to ½ or less.
    """
    lam = (dE_fm - dE_afm) / (n_afm * spin**2)
    if round(2 * spin) <= 1:
        return 0.0, lam
    ratio = n_fm / n_afm
    single_ion = dE_fm * (1 - ratio) + dE_afm * (1 + ratio)
    return single_ion / ((2 * spin - 1) * spin), lam


def spin_wave_gap(A: float, lam: float, spin: float, n_nn: int) -> float:
    """Δ = A(2S - 1) + λ S N_nn: the gap of the fm spin waves (unit of A, λ)."""
    return A * (2 * spin - 1) + lam * spin * n_nn


def curie_temperature(J: float, gap: float, spin: float, n_nn: int) -> float | None:
    """T_C (K) of a 2D ferromagnet from J and Δ (meV) and the spin S.

    Torelli & Olsen's fit: T_C = S² J T̃_C^Ising / k_B · f(Δ / (J(2S - 1)))
    with f(x) = tanh^¼(6/N_nn ln(1 + γx)), γ = 0.033; zero without a gap (an
    easy plane). Only for the honeycomb, square and triangular lattices (N_nn
    3, 4, 6) the fit was made for, and for S > ½: the fit's variable is the
    gap per 2S - 1, which a spin ½ does not have (None).
    """
    if n_nn not in ISING_TC:
        raise ValueError(f"no Ising critical temperature for {n_nn} neighbours")
    if round(2 * spin) <= 1:
        return None
    if J <= 0 or gap <= 0:
        return 0.0
    x = gap / (J * (2 * spin - 1))
    fit = np.tanh(6 / n_nn * np.log(1 + GAMMA_FIT * x)) ** 0.25
    return float(spin**2 * J * ISING_TC[n_nn] / KB * fit)


def corrected_curie_temperature(record):
    """Version 1's T_C had Δ/J for Δ/(J(2S - 1)): recompute it from the Record."""
    result = record.result
    if result.T_C is not None:
        T_C = curie_temperature(
            result.J, result.spin_wave_gap, result.spin, result.N_nn
        )
        record.result = replace(result, T_C=T_C)
    record.version = 2
    return record


MIGRATIONS = [
    MigrationSelector(
        Selector(name="asr.exchange", version=1),
        Migration(
            "asr.exchange:1-2",
            "T_C from Torelli & Olsen's fit in Δ/(J(2S - 1)), not Δ/J",
            corrected_curie_temperature,
        ),
    )
]


@instruction("asr.exchange", version=2, packages=("gpaw",), migrations=MIGRATIONS)
def main(
    atoms: Atoms, calculator: dict = DEFAULT_GPAW, moment: float = 3.0
) -> ExchangeResult:
    """J, A, λ and T_C from the fm and afm states; `moment` starts them (μB)."""
    from gpaw import GPAW

    magnetic = magnetic_atoms(atoms)
    # Both starting states first: a cell unfit for afm fails before any GPAW.
    starts = {s: magnetize(atoms, state=s, moment=moment).result for s in ("fm", "afm")}
    states = {}
    for state, start in starts.items():
        gs = groundstate(start.atoms, calculator).result
        magmoms = np.asarray(gs.magmoms)[magnetic]
        check_state(state, magmoms, start.magmoms[magnetic])
        states[state] = (gs, start.magmoms)
    gs_fm, _ = states["fm"]
    gs_afm, signs = states["afm"]

    neighbours = nearest_magnetic_neighbours(atoms, magnetic)
    antiparallel = sum(
        int(signs[a] * signs[b] < 0) for a, bs in neighbours.items() for b in bs
    )
    if antiparallel == 0:
        raise ValueError(
            "no nearest magnetic neighbours are antiparallel in the afm state of "
            "this cell: it says nothing about the nearest-neighbour coupling"
        )
    spin = float(np.mean(np.abs(np.asarray(gs_fm.magmoms)[magnetic]))) / 2
    difference = gs_afm.energy - gs_fm.energy
    coupling = difference / (antiparallel * spin**2)

    soc = {
        state: soc_energies(GPAW(gs.gpw.path, txt=None))
        for state, (gs, _) in states.items()
    }
    # E(in plane) - E(z) per magnetic atom (meV): the plane is x and y.
    dE = {
        state: ((e["x"] + e["y"]) / 2 - e["z"]) / len(magnetic)
        for state, e in soc.items()
    }
    n_nn = len(neighbours[magnetic[0]])
    n_afm = antiparallel / len(magnetic)
    A, lam = anisotropy_parameters(dE["fm"], dE["afm"], spin, n_afm, n_nn - n_afm)
    gap = spin_wave_gap(A, lam, spin, n_nn)
    T_C = None
    if difference > 0 and dimensionality(atoms) == 2 and n_nn in ISING_TC:
        T_C = curie_temperature(1000 * coupling, gap, spin, n_nn)
    return ExchangeResult(
        J=1000 * coupling,
        spin=spin,
        N_nn=n_nn,
        antiparallel_bonds=antiparallel,
        energy_fm=float(gs_fm.energy),
        energy_afm=float(gs_afm.energy),
        dE_afm_fm=1000 * difference / len(magnetic),
        magmoms_fm=np.asarray(gs_fm.magmoms, dtype=float),
        magmoms_afm=np.asarray(gs_afm.magmoms, dtype=float),
        magnetic_ground_state="fm" if difference > 0 else "afm",
        A=float(A),
        lam=float(lam),
        spin_wave_gap=float(gap),
        T_C=T_C,
        soc_energies_fm=np.array([soc["fm"][a] for a in "xyz"]),
        soc_energies_afm=np.array([soc["afm"][a] for a in "xyz"]),
    )
