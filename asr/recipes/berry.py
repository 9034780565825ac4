"""Band topology of a 2D material from the Berry phases of its occupied bands.

GPAW's parallel transport (`gpaw.berryphase.parallel_transport`) gives, for
every k_y of a Γ-centred grid without symmetry, the Berry phases φ_m(k_y)
of the occupied spinor bands (spin-orbit coupling included) along k_x:
the positions of the hybrid Wannier charge centres, with their spin
expectation values along z. From their flow over the Brillouin zone:

* the Chern number C is the winding of Σ_m φ_m(k_y) as k_y goes once
  around the zone;
* the Z2 index (time-reversal symmetric, non-magnetic materials only) is the
  parity of how often the middle of the largest gap between the centres
  jumps over a centre as k_y goes from 0 to π (Soluyanov and Vanderbilt,
  Phys. Rev. B 83, 235401 (2011)).

Both come from a finite grid: check the figure of the phase spectrum before
trusting a non-trivial result, and converge `nk`.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, check_2d, dimensionality
from .gs import GroundStateResult
from .gs import main as groundstate
from .spinaxis import spin_axis
from .wavefunctions import main as wavefunctions

# A magnetic moment above this (μB per cell) breaks time-reversal symmetry.
MAGNETIC = 0.01


@dataclass
class BerryResult(Result):
    title = "Band topology"
    k: np.ndarray = field(metadata=key("k_y of each string (scaled, Γ-centred grid)"))
    phi_km: np.ndarray = field(
        metadata=key("Berry phases along k_x of the occupied bands (k_y, band)", "rad")
    )
    s_km: np.ndarray = field(
        metadata=key("Spin along z of each Wannier charge centre (k_y, band)")
    )
    chern: int = field(metadata=key("Chern number", database=True))
    z2: int | None = field(
        metadata=key(
            "Z2 index (None when time-reversal symmetry is broken)", database=True
        )
    )
    topology: str = field(
        metadata=key(
            "Trivial, Z2 topological insulator, or Chern insulator", database=True
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        nk, nb = self.phi_km.shape
        k = np.repeat(self.k, nb)
        phases = np.mod(self.phi_km, 2 * np.pi).ravel() / (2 * np.pi)
        points = ax.scatter(
            k, phases, c=self.s_km.ravel(), cmap="coolwarm", vmin=-1, vmax=1, s=12
        )
        fig.colorbar(points, ax=ax, label=r"$\langle S_z \rangle$")
        ax.set_xlim(self.k.min(), self.k.max())
        ax.set_ylim(0, 1)
        ax.set_xlabel(r"$k_y$ [$2\pi/b$]")
        ax.set_ylabel(r"Berry phase $\phi/2\pi$")
        z2 = "n/a" if self.z2 is None else str(self.z2)
        ax.set_title(f"C = {self.chern}, Z2 = {z2}")
        fig.tight_layout()
        path = Path(folder) / "berry-phases.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["berry-phases.png"]
        return panel


def wrap(angle):
    """An angle in (-π, π]."""
    return np.pi - np.mod(np.pi - np.asarray(angle), 2 * np.pi)


def chern_number(phi_km: np.ndarray) -> int:
    """Winding of the summed phases over a closed loop of k-points."""
    total = np.asarray(phi_km).sum(axis=1)
    steps = wrap(np.roll(total, -1) - total)
    return int(np.rint(steps.sum() / (2 * np.pi)))


def largest_gap_middle(phases: np.ndarray) -> float:
    """The middle of the largest gap between phases on the circle."""
    ordered = np.sort(np.mod(phases, 2 * np.pi))
    gaps = np.diff(np.append(ordered, ordered[0] + 2 * np.pi))
    i = int(np.argmax(gaps))
    return float(np.mod(ordered[i] + gaps[i] / 2, 2 * np.pi))


def z2_index(phi_km: np.ndarray) -> int:
    """Parity of the jumps of the largest-gap middle over the centres.

    The rows of `phi_km` are k = 0, 1/N, ..., (N-1)/N with N even; the half
    0..1/2 is used (time reversal gives the other).
    """
    nk = len(phi_km)
    if nk % 2:
        raise ValueError("the Z2 index needs an even number of k-points (0 and π)")
    middles = [largest_gap_middle(phi_km[k]) for k in range(nk // 2 + 1)]
    jumps = 0
    for k in range(nk // 2):
        step = wrap(middles[k + 1] - middles[k])
        offsets = wrap(np.asarray(phi_km[k + 1]) - middles[k])
        inside = (np.sign(offsets) == np.sign(step)) & (np.abs(offsets) < abs(step))
        jumps += int(inside.sum())
    return jumps % 2


def check_insulating(gs: GroundStateResult) -> None:
    """Raise unless the ground state has a gap with spin-orbit coupling.

    The phases are those of spinor bands (SOC included), so the gap that
    matters is the SOC one: a layer that is gapless without SOC and gapped
    with it (a quantum-spin-Hall candidate) is exactly what to look at.
    """
    if not gs.gap_soc > 0.0:
        raise ValueError(
            "a metal has no band topology: the phases need a gap with "
            "spin-orbit coupling"
        )


def topology_name(chern: int, z2: int | None) -> str:
    if chern != 0:
        return f"Chern insulator (C = {chern})"
    if z2 == 1:
        return "Z2 topological insulator"
    return "Trivial"


@instruction("asr.berry", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    nk: int = 24,
) -> BerryResult:
    """Chern number and Z2 index from Berry phases on an `nk` x `nk` grid."""
    from gpaw import GPAW
    from gpaw.berryphase import parallel_transport

    check_2d(atoms)
    if dimensionality(atoms) != 2:
        raise ValueError(
            "asr.berry is for 2D materials (periodic along x and y, vacuum along z)"
        )
    if nk < 2 or nk % 2:
        raise ValueError(f"nk must be even (k_y = 0 and π on the grid), not {nk}")
    gs = groundstate(atoms, calculator).result
    check_insulating(gs)
    wfs = wavefunctions(
        atoms,
        calculator,
        kpts={"size": [nk, nk, 1], "gamma": True},
        nbands=-2,
        symmetry=False,
    ).result
    calc = GPAW(wfs.gpw.path, txt=None)
    theta, phi = spin_axis(atoms, calculator)
    with redirect_stdout(io.StringIO()):
        phi_km, s_km = parallel_transport(
            calc, direction=0, scale=1.0, theta=theta, phi=phi
        )
    # String k starts at BZ point k (k_x = first, k_y = the k-th value):
    # order the strings by k_y in [0, 1).
    k_y = np.mod(np.asarray(calc.get_bz_k_points())[:nk, 1] + 1e-9, 1.0)
    order = np.argsort(k_y)
    phi_km, s_km = np.asarray(phi_km)[order], np.asarray(s_km)[order]
    magnetic = gs.spin_polarized and abs(gs.magmom) > MAGNETIC
    chern = chern_number(phi_km)
    z2 = None if magnetic else z2_index(phi_km)
    return BerryResult(
        k=np.round(k_y[order] - 1e-9, 12),
        phi_km=phi_km,
        s_km=s_km,
        chern=chern,
        z2=z2,
        topology=topology_name(chern, z2),
    )
