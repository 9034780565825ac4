"""Orbital-projected density of states: s, p and d of each element.

The projections are those of the PAW projectors of the bound atomic states
(`gpaw.dos.DOSCalculator.raw_pdos`), summed over the atoms of each element
and over the magnetic quantum number. They come from the dense k-point grid
of `asr.dos` (same arguments), without and with spin-orbit coupling. The
projections are a measure of character, not a partition of the total DOS:
the part of a state outside the PAW spheres belongs to no atom, and the
projectors of one angular momentum (a semicore and a valence p state, say)
are not orthonormal, so the channels may add up to less or more than the DOS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW
from .dos import energy_grid
from .dos import main as density_of_states
from .spinaxis import spin_axis

ANGULAR = "spdf"


@dataclass
class PDOSResult(Result):
    title = "Projected density of states"
    energies: np.ndarray = field(
        metadata=key("Energies, relative to the Fermi level", "eV")
    )
    channels: list = field(
        metadata=key("Projection of each row: element and angular momentum, 'Mo-d'")
    )
    pdos: np.ndarray = field(
        metadata=key(
            "PDOS without spin-orbit coupling (spins, channels, energies); one "
            "spin row holding both spins if not spin-polarized",
            "states/eV/cell",
        )
    )
    pdos_soc: np.ndarray = field(
        metadata=key(
            "PDOS with spin-orbit coupling (channels, energies)", "states/eV/cell"
        )
    )
    dos_soc: np.ndarray = field(
        metadata=key(
            "Total DOS with spin-orbit coupling (of asr.dos)", "states/eV/cell"
        )
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.subplots()
        ax.fill_between(self.energies, self.dos_soc, color="0.85", label="total")
        for i, channel in enumerate(self.channels):
            ax.plot(self.energies, self.pdos_soc[i], label=channel, color=f"C{i}")
        ax.axvline(0.0, color="k", ls=":", lw=0.8)
        ax.set_xlim(-5, 5)
        shown = (self.energies > -5) & (self.energies < 5)
        ax.set_ylim(0, 1.05 * max(self.dos_soc[shown].max(), 1e-3))
        ax.set_xlabel(r"$E - E_\mathrm{F}$ [eV]")
        ax.set_ylabel("PDOS with SOC [states/eV/cell]")
        ax.legend(ncols=2, fontsize="small")
        fig.tight_layout()
        path = Path(folder) / "pdos.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["pdos.png"]
        return panel


def orbital_channels(symbols: list[str], setups) -> list[tuple[str, list[int], int]]:
    """(label, atoms, ℓ) of each element and angular momentum it has projectors for.

    `setups` are GPAW's PAW setups of the atoms (``calc.setups``); only bound
    states (the ones `gpaw.dos.get_projector_numbers` counts) make a channel.
    """
    channels = []
    for symbol in dict.fromkeys(symbols):
        atoms = [a for a, s in enumerate(symbols) if s == symbol]
        setup = setups[atoms[0]]
        ells = sorted({int(ell) for n, ell in zip(setup.n_j, setup.l_j) if n >= 0})
        channels += [(f"{symbol}-{ANGULAR[ell]}", atoms, ell) for ell in ells]
    return channels


def channel_pdos(doscalc, energies, atoms, ell, spin, width) -> np.ndarray:
    pdos = [doscalc.raw_pdos(energies, a, ell, spin=spin, width=width) for a in atoms]
    return sum(pdos)


@instruction("asr.pdos", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kptdensity: float = 20.0,
    width: float = 0.0,
) -> PDOSResult:
    """s, p, d projected DOS of each element on the grid of `asr.dos`."""
    from gpaw.dos import DOSCalculator

    dos = density_of_states(
        atoms, calculator=calculator, kptdensity=kptdensity, width=width
    ).result
    gpw = dos.gpw.path
    energies = energy_grid()
    plain = DOSCalculator.from_calculator(gpw)
    theta, phi = spin_axis(atoms, calculator)
    soc = DOSCalculator.from_calculator(gpw, soc=True, theta=theta, phi=phi)
    channels = orbital_channels(atoms.get_chemical_symbols(), plain.setups)
    spins = [None] if plain.nspins == 1 else [0, 1]
    pdos = np.array(
        [
            [channel_pdos(plain, energies, a, ell, s, width) for _, a, ell in channels]
            for s in spins
        ]
    )
    pdos_soc = np.array(
        [channel_pdos(soc, energies, a, ell, None, width) for _, a, ell in channels]
    )
    return PDOSResult(
        energies=energies,
        channels=[label for label, _, _ in channels],
        pdos=pdos,
        pdos_soc=pdos_soc,
        dos_soc=dos.dos_soc,
    )
