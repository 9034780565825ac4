"""Band structure coloured by orbital character: s, p and d of each element.

The states along the band path of `asr.bandstructure` (same arguments;
without spin-orbit coupling) are projected on the PAW projectors of the
bound atomic states (`gpaw.dos.IBZWaveFunctions.pdos_weights`), summed over
the atoms of each element and the magnetic quantum number. The weights of a
state are normalised to add up to one over the channels, so they say which
orbitals a state is made of, not how much of it lies inside the PAW spheres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .bandstructure import label_for
from .bandstructure import main as bandstructure
from .common import DEFAULT_GPAW
from .pdos import orbital_channels


@dataclass
class ProjectedBandStructureResult(Result):
    title = "Orbital-projected band structure"
    path: dict = field(metadata=key("Band path, as in asr.bandstructure"))
    energies: np.ndarray = field(
        metadata=key(
            "Band energies without spin-orbit coupling (spins, k-points, bands), "
            "relative to the reference of asr.bandstructure",
            "eV",
        )
    )
    reference_name: str = field(
        metadata=key("What the energies are relative to (of asr.bandstructure)")
    )
    efermi: float = field(metadata=key("Fermi level, relative to the reference", "eV"))
    channels: list = field(
        metadata=key("Orbital channels: element and angular momentum, 'Mo-d'")
    )
    weights: np.ndarray = field(
        metadata=key(
            "Weight of each channel in each state (spins, k-points, bands, "
            "channels); adds up to one over the channels"
        )
    )
    energy_window: tuple = field(
        metadata=key("Energy range of the figure (of asr.bandstructure)", "eV")
    )

    def figures(self, folder: Path) -> list[Path]:
        from ase.dft.kpoints import BandPath
        from matplotlib.figure import Figure

        path = BandPath(**self.path)
        x, label_x, labels = path.get_linear_kpoint_axis()
        emin, emax = self.energy_window
        fig = Figure(figsize=(6.4, 4.8))
        ax = fig.subplots()
        for e_kn in self.energies:
            ax.plot(x, e_kn, color="0.6", lw=0.6, zorder=0)
        xs = np.broadcast_to(x[:, np.newaxis], self.energies.shape[1:])
        for c, channel in enumerate(self.channels):
            for s, e_kn in enumerate(self.energies):
                ax.scatter(
                    xs,
                    e_kn,
                    s=30 * self.weights[s, ..., c],
                    color=f"C{c}",
                    alpha=0.6,
                    lw=0,
                    label=channel if s == 0 else None,
                )
        for xi in label_x[1:-1]:
            ax.axvline(xi, color="0.5", lw=0.8)
        ax.axhline(self.efermi, color="k", ls=":", lw=0.8)
        pretty = [r"$\Gamma$" if name == "G" else name for name in labels]
        ax.set_xticks(label_x, pretty)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(emin, emax)
        ax.set_ylabel(label_for(self.reference_name))
        ax.legend(loc="upper right", ncols=2, fontsize="small", markerscale=1.5)
        fig.tight_layout()
        filename = Path(folder) / "proj-bandstructure.png"
        fig.savefig(filename)
        return [filename]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["proj-bandstructure.png"]
        return panel


def channel_weights(calc, channels) -> np.ndarray:
    """Normalised weights (spins, k-points, bands, channels) of a calculation."""
    from gpaw.dos import IBZWaveFunctions, get_projector_numbers

    wfs = IBZWaveFunctions(calc)
    weights = []
    for _, atoms, ell in channels:
        w_kns = sum(
            wfs.pdos_weights(a, get_projector_numbers(calc.setups[a], ell))
            for a in atoms
        )
        weights.append(np.transpose(w_kns, (2, 0, 1)))
    w_sknc = np.stack(weights, axis=-1)
    total = w_sknc.sum(axis=-1, keepdims=True)
    return np.divide(w_sknc, total, out=np.zeros_like(w_sknc), where=total > 0)


@instruction("asr.proj_bandstructure", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    npoints: int = 400,
    path: str | None = None,
) -> ProjectedBandStructureResult:
    """Orbital weights of the states along the band path of `asr.bandstructure`."""
    from gpaw import GPAW

    bs = bandstructure(atoms, calculator=calculator, npoints=npoints, path=path).result
    calc = GPAW(bs.gpw.path, txt=None)
    channels = orbital_channels(atoms.get_chemical_symbols(), calc.setups)
    weights = channel_weights(calc, channels)
    return ProjectedBandStructureResult(
        path=bs.path,
        energies=bs.energies,
        reference_name=bs.reference_name,
        efermi=bs.efermi,
        channels=[label for label, _, _ in channels],
        weights=weights,
        energy_window=tuple(float(e) for e in bs.energy_window()),
    )
