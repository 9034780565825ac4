"""Density of states, without and with spin-orbit coupling.

The Kohn-Sham equations are solved non-self-consistently at the ground-state
density (`asr.gs`) on a k-point grid denser than the ground state's
(`kptdensity`, points per Å⁻¹); GPAW's `gpaw.dos.DOSCalculator` then gives the
DOS by the linear tetrahedron method (`width=0`) or with Gaussians of that
width. Energies are relative to the Fermi level of the dense grid, without
and with spin-orbit coupling respectively. The .gpw file of the dense grid
is kept for `asr.pdos`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from ase import Atoms

from asr.core import File, Result, instruction, key

from .common import DEFAULT_GPAW, fixed_density, kpts_for
from .gs import main as groundstate
from .spinaxis import spin_axis

# Energies of the DOS, relative to the Fermi level (eV).
EMIN, EMAX, NPOINTS = -10.0, 10.0, 2001


@dataclass
class DOSResult(Result):
    title = "Density of states"
    energies: np.ndarray = field(
        metadata=key("Energies of the DOS, relative to the Fermi level", "eV")
    )
    dos: np.ndarray = field(
        metadata=key(
            "DOS of each spin (spins, energies); one row, both spins, if not "
            "spin-polarized",
            "states/eV/cell",
        )
    )
    dos_soc: np.ndarray = field(
        metadata=key("DOS with spin-orbit coupling", "states/eV/cell")
    )
    efermi: float = field(
        metadata=key("Fermi level of the dense grid, on GPAW's scale", "eV")
    )
    efermi_soc: float = field(
        metadata=key("Fermi level with spin-orbit coupling, on GPAW's scale", "eV")
    )
    dos_at_ef_nosoc: float = field(
        metadata=key(
            "DOS at the Fermi level without spin-orbit coupling",
            "states/eV/cell",
            database=True,
        )
    )
    dos_at_ef_soc: float = field(
        metadata=key(
            "DOS at the Fermi level with spin-orbit coupling",
            "states/eV/cell",
            database=True,
        )
    )
    kpts_size: list = field(metadata=key("Monkhorst-Pack size of the dense grid"))
    width: float = field(
        metadata=key("Gaussian width (0: linear tetrahedron method)", "eV")
    )
    gpw: File = field(metadata=key("GPAW file of the dense grid (no wave functions)"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.subplots()
        if len(self.dos) == 2:
            ax.plot(self.energies, self.dos[0], color="C0", label="spin up")
            ax.plot(self.energies, -self.dos[1], color="C1", label="spin down")
            ax.axhline(0.0, color="k", lw=0.5)
        else:
            ax.plot(self.energies, self.dos[0], color="C0", label="no SOC")
        ax.plot(self.energies, self.dos_soc, color="k", lw=0.8, label="SOC")
        ax.axvline(0.0, color="k", ls=":", lw=0.8)
        ax.set_xlim(-5, 5)
        ax.set_xlabel(r"$E - E_\mathrm{F}$ [eV]")
        ax.set_ylabel("DOS [states/eV/cell]")
        ax.legend()
        fig.tight_layout()
        path = Path(folder) / "dos.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["dos.png"]
        return panel


def energy_grid() -> np.ndarray:
    return np.linspace(EMIN, EMAX, NPOINTS)


def spin_resolved_dos(doscalc, energies: np.ndarray, width: float) -> np.ndarray:
    """(spins, energies): one row of both spins when not spin-polarized."""
    if doscalc.nspins == 1:
        return doscalc.raw_dos(energies, width=width)[np.newaxis]
    return np.array([doscalc.raw_dos(energies, spin=s, width=width) for s in range(2)])


def dos_name(arguments: dict[str, Any]) -> str:
    """``dos-<hash>.gpw``: different calls in one folder never share a file."""
    return f"dos-{main.terms(arguments).exact.hex()[:16]}.gpw"


@instruction("asr.dos", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kptdensity: Annotated[float, "k-points/Å⁻¹"] = 20.0,
    width: Annotated[float, "eV"] = 0.0,
) -> DOSResult:
    """DOS on a grid of `kptdensity` points per Å⁻¹ (width 0: tetrahedra)."""
    from gpaw.dos import DOSCalculator

    if width < 0:
        raise ValueError(f"width must be >= 0 (0: tetrahedron method), not {width}")
    gs = groundstate(atoms, calculator).result
    kpts = kpts_for(atoms, kptdensity)
    calc = fixed_density(gs.gpw.path, calculator, kpts=kpts, update_fermi_level=True)
    gpw = Path(
        dos_name(
            {
                "atoms": atoms,
                "calculator": calculator,
                "kptdensity": kptdensity,
                "width": width,
            }
        )
    )
    calc.write(gpw)

    energies = energy_grid()
    plain = DOSCalculator.from_calculator(calc)
    dos = spin_resolved_dos(plain, energies, width)
    theta, phi = spin_axis(atoms, calculator)
    soc = DOSCalculator.from_calculator(calc, soc=True, theta=theta, phi=phi)
    dos_soc = soc.raw_dos(energies, width=width)
    at_ef = [0.0]
    return DOSResult(
        energies=energies,
        dos=dos,
        dos_soc=dos_soc,
        efermi=float(plain.fermi_level),
        efermi_soc=float(soc.fermi_level),
        dos_at_ef_nosoc=float(plain.raw_dos(at_ef, width=width)[0]),
        dos_at_ef_soc=float(soc.raw_dos(at_ef, width=width)[0]),
        kpts_size=[int(n) for n in kpts["size"]],
        width=float(width),
        gpw=File(gpw),
    )
