"""The figures of the recipes the demo does not run: ``python gallery.py demo``.

`make demo` runs a C2DB-style workflow (examples/workflow.py, tiny profile)
over Si, BN, MoS2 and Fe; it draws the figures of the recipes in `IN_DEMO`.
The other recipes whose Results draw figures need a material or a setup of
their own (a polar crystal for phonons, a 2D layer for piezoelectricity,
reference databases for a convex hull). Each has one `Case` here: a real
run at the tiniest settings that still give a meaningful picture, in the
given store (``<folder>/.asr``), from ``<folder>/gallery/<recipe>/``.

The store is the cache: a second run finds every Record and computes
nothing. `make docs` runs this after `make demo`, then draws every recipe
page's figure from that one store. The numbers are not converged. The 21
runs take 2 minutes of CPU (9 measured on a busy 2-core machine; most of
it the deformation potentials, the piezoelectric tensor and the Born
charges: 3 to 13 ground states each).

A recipe in `NOT_BUILT` gets a note with its reason on its page instead.
tests/docs/test_gallery.py checks that every recipe with figures is in
`IN_DEMO`, in `CASES` or in `NOT_BUILT`.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The recipes whose figures `make demo` draws (examples/workflow.py, tiny).
IN_DEMO = frozenset(
    {
        "asr.bandstructure",
        "asr.dimensionality",
        "asr.dos",
        "asr.emasses",
        "asr.fermisurface",
        "asr.gs",
        "asr.magnetic_anisotropy",
        "asr.pdos",
        "asr.phonopy",
        "asr.relax",
        "asr.stiffness",
    }
)

# Recipes with figures that no tiny run here draws, and why.
NOT_BUILT: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    """One tiny run: `recipe` on `material`, called by `run`."""

    recipe: str
    material: str
    run: Callable[[], Any]  # returns the Record


CASES: dict[str, Case] = {}


def case(recipe: str, material: str):
    def register(run: Callable[[], Any]) -> Callable[[], Any]:
        CASES[recipe] = Case(recipe, material, run)
        return run

    return register


# -- materials and calculators ---------------------------------------------


def pw(kpts: list[int], ecut: int = 200, **extra) -> dict:
    """Plane waves at `ecut` eV on a Γ-centred grid of `kpts`."""
    return {
        "name": "gpaw",
        "mode": {"name": "pw", "ecut": ecut},
        "xc": "PBE",
        "kpts": {"size": kpts, "gamma": True},
        "occupations": {"name": "fermi-dirac", "width": 0.05},
        "txt": None,
        **extra,
    }


def lcao(kpts: list[int], basis: str = "dzp", h: float = 0.25, **extra) -> dict:
    """LCAO: band structures are one diagonalisation per k-point."""
    return {
        "name": "gpaw",
        "mode": "lcao",
        "basis": basis,
        "h": h,
        "xc": "PBE",
        "kpts": {"size": kpts, "gamma": True},
        "occupations": {"name": "fermi-dirac", "width": 0.05},
        "txt": None,
        **extra,
    }


OCCUPIED = {"convergence": {"bands": "occupied"}, "nbands": -2}
EMPTY = {"convergence": {"bands": "CBM+0.5"}, "nbands": "200%"}
BERRY_KPTS = {"size": [2, 2, 2], "gamma": False}  # of the Berry-phase polarisation


def recipe(name: str):
    from asr.recipes import get_recipe

    return get_recipe(name)


def bn_layer():
    """Hexagonal BN (D3h): polar, piezoelectric, a wide gap."""
    from ase import Atoms

    a = 2.51
    return Atoms(
        "BN",
        scaled_positions=[[0, 0, 0.5], [1 / 3, 2 / 3, 0.5]],
        cell=[[a, 0, 0], [-a / 2, a * 3**0.5 / 2, 0], [0, 0, 7.0]],
        pbc=[True, True, False],
    )


def cubic_bn():
    """Zinc-blende BN: two atoms, polar, no inversion (SHG, shift current)."""
    from ase.build import bulk

    return bulk("BN", "zincblende", a=3.62)


def silicon():
    from ase.build import bulk

    return bulk("Si")


def cu3au():
    """The L1₂ ordered alloy, with EMT: defects and hulls in seconds."""
    import numpy as np
    from ase import Atoms

    return Atoms(
        "AuCu3",
        scaled_positions=[[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
        cell=np.eye(3) * 3.75,
        pbc=True,
    )


def emt_references(path: Path) -> Path:
    """An ASE database of EMT energies in the Cu-Au-Ag system (kept if there)."""
    from ase import Atoms
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.db import connect

    if path.exists():
        return path

    def ordered(symbols: str, a: float) -> Atoms:
        scaled = [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
        return Atoms(symbols, scaled_positions=scaled, cell=[a, a, a], pbc=True)

    partial = path.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    with connect(partial) as db:
        for atoms in [
            bulk("Cu", "fcc", a=3.6),
            bulk("Au", "fcc", a=4.08),
            bulk("Ag", "fcc", a=4.09),
            ordered("AuCu3", 3.75),
            ordered("CuAu3", 3.97),
            ordered("Ag2Au2", 4.08),
            ordered("AgCu3", 3.7),
        ]:
            atoms.calc = EMT()
            atoms.get_potential_energy()  # written with the atoms
            db.write(atoms, uid=atoms.get_chemical_formula())
    partial.rename(path)
    return path


# -- the cases ----------------------------------------------------------------


@case("asr.setup.defects", "MoS2 layer")
def _defects():
    from ase.build import mx2

    return recipe("asr.setup.defects")(mx2("MoS2", vacuum=7.5))


@case("asr.defectformation", "Cu3Au (EMT)")
def _defectformation():
    return recipe("asr.defectformation")(cu3au(), {"name": "emt"}, supercell=(2, 2, 2))


def cuau_on_the_hull() -> tuple:
    """CuAu (EMT), its energy and the reference database, as the hulls take them."""
    from ase import Atoms
    from ase.calculators.emt import EMT

    scaled = [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    atoms = Atoms("Cu2Au2", scaled_positions=scaled, cell=[3.87] * 3, pbc=True)
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    references = str(emt_references(Path("../references.db")).resolve())
    return atoms, energy, [references]


@case("asr.convex_hull", "CuAu (EMT)")
def _convex_hull():
    return recipe("asr.convex_hull")(*cuau_on_the_hull())


@case("asr.chc", "CuAu + Ag (EMT)")
def _chc():
    return recipe("asr.chc")(*cuau_on_the_hull(), reactant="Ag")


@case("asr.fere", "Cu-Au alloys (EMT)")
def _fere():
    references = str(emt_references(Path("../references.db")).resolve())
    # Formation enthalpies as if measured (eV/atom), for the fit to match.
    return recipe("asr.fere")(references, {"Cu3Au": -0.075, "CuAu3": -0.045})


@case("asr.bader", "NaCl")
def _bader():
    from ase.build import bulk

    atoms = bulk("NaCl", "rocksalt", a=5.64)
    calc = pw([2, 2, 2], ecut=250, **OCCUPIED)
    return recipe("asr.bader")(atoms, calc, gridrefinement=2)


@case("asr.deformationpotentials", "BN layer")
def _deformationpotentials():  # MoS2: minutes; BN's edges are at K too
    return recipe("asr.deformationpotentials")(
        bn_layer(), lcao([6, 6, 1]), components=("xx",), relax_positions=False
    )


@case("asr.proj_bandstructure", "BN layer")
def _proj_bandstructure():  # the ground state of asr.deformationpotentials
    return recipe("asr.proj_bandstructure")(bn_layer(), lcao([6, 6, 1]), npoints=60)


@case("asr.berry", "BN layer")
def _berry():
    return recipe("asr.berry")(bn_layer(), pw([3, 3, 1], **OCCUPIED), nk=4)


@case("asr.piezoelectrictensor", "BN layer")
def _piezoelectrictensor():
    return recipe("asr.piezoelectrictensor")(
        bn_layer(),
        pw([3, 3, 1], **OCCUPIED),
        kpts={"size": [3, 3, 1], "gamma": False},
        relax_positions=False,
    )


# One set of arguments each: the band structures find asr.hse's and asr.gw's
# Records of the same calls in the store.
HSE = {"kpts": {"size": [2, 2, 2], "gamma": True}, "empty_bands": 4}
GW = {
    "kpts": {"size": [2, 2, 2], "gamma": True},
    "ecut": 50.0,
    "ecut_extrapolation": False,
    "ppa": True,
    # Whole levels of Si at the window's edges (SOC mixes only the bands in
    # it): the threefold valence top at Γ, the conduction pair 3 eV up.
    "valence_bands": 3,
    "conduction_bands": 3,
}


@case("asr.hse", "Si")
def _hse():
    return recipe("asr.hse")(silicon(), pw([2, 2, 2], **EMPTY), **HSE)


@case("asr.gw", "Si")
def _gw():
    return recipe("asr.gw")(silicon(), pw([2, 2, 2], **EMPTY), **GW)


@case("asr.hse_bandstructure", "Si")
def _hse_bandstructure():
    return recipe("asr.hse_bandstructure")(
        silicon(), pw([2, 2, 2], **EMPTY), **HSE, npoints=60
    )


@case("asr.gw_bandstructure", "Si")
def _gw_bandstructure():
    return recipe("asr.gw_bandstructure")(
        silicon(), pw([2, 2, 2], **EMPTY), **GW, npoints=60
    )


@case("asr.polarizability", "Si")
def _polarizability():
    return recipe("asr.polarizability")(
        silicon(),
        pw([2, 2, 2], **EMPTY),
        kpts={"size": [4, 4, 4], "gamma": True},
        nbands=16,
        ecut=20.0,
        eta=0.2,
        omegamax=10.0,
        domega0=0.05,
    )


@case("asr.bse", "Si")
def _bse():
    return recipe("asr.bse")(
        silicon(),
        pw([2, 2, 2], **EMPTY),
        kpts={"size": [3, 3, 3], "gamma": True},
        ecut=10.0,
        window=1.0,
        screening_bands=12,
        directions="x",
        nfrequencies=201,
    )


NLO = {"kpts": {"size": [3, 3, 3], "gamma": True}, "nbands": 12, "nfrequencies": 21}


@case("asr.shg", "cubic BN")
def _shg():
    return recipe("asr.shg")(cubic_bn(), pw([2, 2, 2], **OCCUPIED), **NLO)


@case("asr.shift", "cubic BN")
def _shift():  # the wave functions of asr.shg: found in the store
    return recipe("asr.shift")(cubic_bn(), pw([2, 2, 2], **OCCUPIED), **NLO)


@case("asr.borncharges", "cubic BN")
def _borncharges():
    return recipe("asr.borncharges")(cubic_bn(), pw([2, 2, 2], **OCCUPIED), BERRY_KPTS)


@case("asr.infraredpolarizability", "cubic BN")
def _infrared():  # the Born charges of asr.borncharges: found in the store
    calc = pw([2, 2, 2], **OCCUPIED)
    return recipe("asr.infraredpolarizability")(
        cubic_bn(), calc, BERRY_KPTS, phonon_calculator=calc
    )


@case("asr.raman", "diamond")
def _raman():
    from ase.build import bulk

    calc = lcao([2, 2, 2], basis="sz(dzp)", h=0.3)
    calc["occupations"] = {"name": "fermi-dirac", "width": 0.02}
    return recipe("asr.raman")(
        bulk("C", "diamond", a=3.567), calc, supercell=(1, 1, 1), laser_energy=5.0
    )


# -- running ------------------------------------------------------------------


def run_case(item: Case, root: Path) -> tuple[bool, float]:
    """Run one case in its own folder; True if its Record draws a figure."""
    from tempfile import TemporaryDirectory

    folder = root / "gallery" / item.recipe
    folder.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    start = time.perf_counter()
    os.chdir(folder)
    try:
        record = item.run()
        with TemporaryDirectory() as scratch:
            drawn = bool(record.result.figures(Path(scratch)))
    except Exception:
        traceback.print_exc()
        drawn = False
    finally:
        os.chdir(here)
    return drawn, time.perf_counter() - start


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from asr.core import use_store
    from asr.core.cache import all_records
    from asr.store import open_store

    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python examples/gallery.py STORE_FOLDER", file=sys.stderr)
        return 2
    root = Path(argv[0]).resolve()
    failed = []
    total = time.perf_counter()
    with use_store(open_store(root)):
        for item in CASES.values():
            drawn, seconds = run_case(item, root)
            mark = "figure" if drawn else "NO FIGURE"
            print(f"{item.recipe:28} {item.material:20} {seconds:7.1f} s  {mark}")
            sys.stdout.flush()
            if not drawn:
                failed.append(item.recipe)
        unmade = sorted(IN_DEMO - {record.name for record in all_records()})
    if unmade:
        print("no Record of " + ", ".join(unmade) + ": run `make demo` first")
    print(
        f"gallery: {len(CASES) - len(failed)} of {len(CASES)} figures in "
        f"{time.perf_counter() - total:.0f} s"
    )
    if failed:
        print("no figure from: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
