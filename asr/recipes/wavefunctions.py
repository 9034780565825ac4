"""Kohn-Sham wave functions on a k-point grid, from the ground-state density.

`asr.gs` keeps no wave functions. Hybrid-functional, GW, BSE, optical,
Berry-phase and nonlinear-optics recipes need them, often with many empty
bands, a denser or Γ-centred k-point grid, or without symmetry. This recipe
takes the self-consistent density of `asr.gs`, solves the Kohn-Sham
equations non-self-consistently (GPAW's ``fixed_density``) and keeps a .gpw
file that holds the wave functions::

    gpw = asr.recipes.wavefunctions.main(atoms, calculator, nbands=-20).result.gpw

`nbands` follows GPAW: a positive number of bands, ``-n`` for the occupied
bands plus ``n`` empty ones, or ``"200%"`` of the occupied ones. The file
holds a few unconverged bands on top of the `nbands` converged ones, unless
`diagonalize` is set, which diagonalises the full plane-wave Hamiltonian
(exact bands, for GW and RPA screening with hundreds of bands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms

from asr.core import File, Result, instruction, key

from .common import DEFAULT_GPAW, kpts_for
from .gs import main as groundstate


@dataclass
class WaveFunctionsResult(Result):
    title = "Wave functions"
    nbands: int = field(metadata=key("Number of converged bands in the file"))
    nbands_total: int = field(
        metadata=key("Number of bands in the file (the highest may be unconverged)")
    )
    nocc: int = field(
        metadata=key("Number of occupied bands (valence electrons / 2, rounded up)")
    )
    kpts_size: list = field(metadata=key("Monkhorst-Pack size of the k-point grid"))
    nibzkpts: int = field(metadata=key("Number of irreducible k-points"))
    symmetry: bool = field(metadata=key("Whether symmetry reduced the k-points"))
    efermi: float = field(metadata=key("Fermi level (of the ground state)", "eV"))
    gpw: File = field(metadata=key("GPAW restart file with the wave functions"))


def resolve_nbands(nbands: int | str | None, nvalence: float, default: int) -> int:
    """GPAW's meaning of `nbands` as a number of bands.

    None: `default`; a positive int: itself; ``-n`` (or 0): the occupied
    bands plus ``n``; ``"150%"``: 1.5 times the occupied bands.
    """
    occupied = math.ceil(nvalence / 2 - 1e-9)
    if nbands is None:
        return int(default)
    if isinstance(nbands, str):
        if not nbands.endswith("%"):
            raise ValueError(
                f"nbands must be an int or a percentage like '200%', not {nbands!r}"
            )
        return max(1, math.ceil(float(nbands[:-1]) / 100 * nvalence / 2))
    if nbands <= 0:
        return occupied - int(nbands)
    return int(nbands)


def kpts_argument(atoms: Atoms, kpts: dict[str, Any] | None) -> dict | None:
    """A k-point density turned into a grid for `atoms`; None keeps the gs grid."""
    if kpts is None:
        return None
    kpts = dict(kpts)
    if "density" in kpts:
        return kpts_for(atoms, kpts["density"], kpts.get("gamma", True))
    return kpts


def wfs_name(arguments: dict[str, Any]) -> str:
    """``wfs-<hash>.gpw``: different calls in one folder never share a file."""
    return f"wfs-{main.terms(arguments).exact.hex()[:16]}.gpw"


@instruction("asr.wavefunctions", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict | None = None,
    nbands: int | str | None = None,
    symmetry: bool = True,
    diagonalize: bool = False,
    occupations: dict | None = None,
) -> WaveFunctionsResult:
    """Wave functions of `nbands` bands on the `kpts` grid (None: the gs grid).

    `kpts` is ``{"density": 8.0, "gamma": True}`` or ``{"size": [4, 4, 1]}``;
    `symmetry=False` gives every k-point of the full Brillouin zone (Berry
    phases, nonlinear optics). `occupations` (GPAW's parameter, e.g. a
    narrow Fermi-Dirac width so that a semiconductor's bands are completely
    filled or empty) fills the states with the Fermi level of the ground state.
    """
    from gpaw import GPAW

    gs = groundstate(atoms, calculator).result
    calc = GPAW(gs.gpw.path, txt=None)
    nvalence = float(calc.get_number_of_electrons())
    nocc = math.ceil(nvalence / 2 - 1e-9)
    wanted = resolve_nbands(nbands, nvalence, calc.get_number_of_bands())
    if wanted < nocc:
        raise ValueError(
            f"nbands={nbands!r} gives {wanted} bands, fewer than the {nocc} "
            "occupied ones"
        )
    params: dict[str, Any] = {"txt": None}
    grid = kpts_argument(atoms, kpts)
    if grid is not None:
        params["kpts"] = grid
    if not symmetry:
        params["symmetry"] = "off"
    if occupations is not None:
        params["occupations"] = dict(occupations)
    # The calculator's eigenstates tolerance holds for these bands too.
    tolerance = {
        k: v
        for k, v in (calculator.get("convergence") or {}).items()
        if k == "eigenstates"
    }
    if diagonalize:
        params.update(nbands=nocc + 4, convergence={**tolerance, "bands": nocc})
    else:
        extra = max(4, wanted // 10)
        params.update(nbands=wanted + extra, convergence={**tolerance, "bands": wanted})
    nscf = calc.fixed_density(**params)
    nscf.get_potential_energy()
    if diagonalize:
        nscf.diagonalize_full_hamiltonian(nbands=wanted)
    path = Path(
        wfs_name(
            {
                "atoms": atoms,
                "calculator": calculator,
                "kpts": kpts,
                "nbands": nbands,
                "symmetry": symmetry,
                "diagonalize": diagonalize,
                "occupations": occupations,
            }
        )
    )
    nscf.write(path, mode="all")
    from ase.dft.kpoints import get_monkhorst_pack_size_and_offset

    size, _ = get_monkhorst_pack_size_and_offset(nscf.get_bz_k_points())
    return WaveFunctionsResult(
        nbands=wanted,
        nbands_total=int(nscf.get_number_of_bands()),
        nocc=nocc,
        kpts_size=[int(n) for n in size],
        nibzkpts=len(nscf.get_ibz_k_points()),
        symmetry=bool(symmetry),
        efermi=float(gs.efermi),
        gpw=File(path),
    )
