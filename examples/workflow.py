"""A C2DB-style workflow: ``mq workflow examples/workflow.py tree/*/``.

Every folder holds a ``structure.json``; one store (``asr init``) above the
tree keeps every Record. The structure is relaxed, then the relaxed atoms
go through the property recipes; the band-gap and magnetism branches only
run where they make sense (Python control flow on results: the next
``mq workflow`` continues once those results exist).

Profiles (environment variable ASR_WORKFLOW_PROFILE):

* ``production`` (default): the recipes' own conservative defaults
  (plane waves at 800 eV, 12 k-points per Å⁻¹, forces to 0.01 eV/Å, ...)
  and cluster-sized resources;
* ``tiny``: seconds to minutes per step on one core, for tests and
  ``make demo``: 200 eV, 1.5 k-points per Å⁻¹, fixed cells, stiffness and
  phonons (at Γ) of 2D materials with at most two atoms only; the numbers
  are not converged.

ASR_CONVEX_HULL_REFERENCES (``a.db:b.db``) names reference databases for
``asr.convex_hull``; without it the convex hull is skipped.

ASR_WORKFLOW_INJECT (``Si:BN``) names material folders in which an extra
ground state is asked for with its SCF capped at 3 iterations: it fails,
and its handlers heal it (``make demo`` shows one; docs/workflows.md).

Run it with MyQueue (docs/workflows.md), or for a quick look on this machine
with ``asr workflow run examples/workflow.py tree/*/ --local``.
"""

from __future__ import annotations

import os

from ase.io import read

from asr.recipes.common import DEFAULT_GPAW
from asr.workflow import run

PROFILE = os.environ.get("ASR_WORKFLOW_PROFILE", "production")
INJECT = [p for p in os.environ.get("ASR_WORKFLOW_INJECT", "").split(":") if p]
REFERENCES = [
    p for p in os.environ.get("ASR_CONVEX_HULL_REFERENCES", "").split(":") if p
]

# The recipes' defaults (bands, occupations, ...) with a low cutoff and few k-points.
TINY_GPAW = {
    **DEFAULT_GPAW,
    "mode": {"name": "pw", "ecut": 200},
    "kpts": {"density": 1.5, "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.1},
    "convergence": {"bands": "CBM+1.0"},  # of the 300 % bands
}
TINY_FORCES = {
    **{k: v for k, v in TINY_GPAW.items() if k not in ("nbands", "convergence")},
    "convergence": {"forces": 1e-3},
}

PROFILES = {
    "production": {
        "gs": {},  # the recipes' defaults
        "forces": {},
        "relax": {},
        "stiffness": {},
        "phonopy": {},
        "bandstructure": {},
        "dos": {},
        "emasses": {},
        "expensive": True,
        "mechanics": lambda atoms: True,
        "resources": {
            "relax": "24:10h",
            "gs": "24:2h",
            "bandstructure": "24:2h",
            "magnetic_anisotropy": "24:1h",
            "stiffness": "24:20h",
            "phonopy": "24:20h",
            "hse": "24:20h",
            "gw": "48:2d",
            "bse": "48:2d",
            "polarizability": "48:10h",
            "borncharges": "24:20h",
            "exchange": "24:4h",
        },
    },
    "tiny": {
        "gs": {"calculator": TINY_GPAW},
        "forces": {"calculator": TINY_FORCES},
        # Positions only: at this cutoff the cell would chase Pulay stress.
        "relax": {"fmax": 0.05, "fix_cell": True, "max_steps": 30},
        "stiffness": {"strain_percent": 1.0, "relax_positions": False},
        "phonopy": {"npoints": 50},  # Γ-point only: see `phonon_supercell`
        "bandstructure": {"npoints": 20},
        "dos": {"kptdensity": 2.0},
        "emasses": {"radii": (0.1,), "npoints": 3},
        "expensive": False,  # the many-body and response recipes: hours even tiny
        # Stiffness and phonons of small 2D cells only: of bulk, or of MoS2,
        # they take many minutes even tiny.
        "mechanics": lambda atoms: not atoms.pbc.all() and len(atoms) <= 2,
        "resources": {},
    },
}


def phonon_supercell(structure) -> dict:
    """Tiny profile: the unit cell itself, doubled once if it has one atom.

    (One atom at Γ has only acoustic modes, all zero: no phonon DOS.)
    """
    if PROFILE != "tiny":
        return {}
    return {"supercell": (1, 1, 1) if len(structure) > 1 else (2, 1, 1)}


def workflow() -> None:
    setup = PROFILES[PROFILE]
    gs_calc, forces_calc = setup["gs"], setup["forces"]
    structure = read("structure.json")

    def resources(name: str) -> str:
        return setup["resources"].get(name, "1:30m")

    relax = run(
        "asr.relax",
        atoms=structure,
        **forces_calc,
        **setup["relax"],
        resources=resources("relax"),
    )
    atoms = relax.result.atoms
    run("asr.structureinfo", atoms=atoms, resources="1:10m")
    run("asr.dimensionality", atoms=atoms, resources="1:10m")

    gs = run("asr.gs", atoms=atoms, **gs_calc, resources=resources("gs"))
    if os.path.basename(os.getcwd()) in INJECT:  # a failure, healed by its handlers
        capped = {**gs_calc.get("calculator", DEFAULT_GPAW), "maxiter": 3}
        run("asr.gs", atoms=atoms, calculator=capped, resources=resources("gs"))
    # These recipes call asr.gs with the same arguments themselves: they
    # depend on the ground-state task, whose Record they then find.
    magstate = run(
        "asr.magstate", atoms=atoms, **gs_calc, deps=[gs], resources=resources("gs")
    )
    run(
        "asr.bandstructure",
        atoms=atoms,
        **gs_calc,
        **setup["bandstructure"],
        deps=[gs],
        resources=resources("bandstructure"),
    )
    dos = run(
        "asr.dos",
        atoms=atoms,
        **gs_calc,
        **setup["dos"],
        deps=[gs],
        resources=resources("gs"),
    )
    run(  # on the grid of asr.dos
        "asr.pdos",
        atoms=atoms,
        **gs_calc,
        **setup["dos"],
        deps=[gs, dos],
        resources=resources("gs"),
    )
    if setup["mechanics"](structure):
        run(
            "asr.stiffness",
            atoms=atoms,
            **forces_calc,
            **setup["stiffness"],
            resources=resources("stiffness"),
        )
        run(
            "asr.phonopy",
            atoms=atoms,
            **forces_calc,
            **setup["phonopy"],
            **phonon_supercell(structure),
            resources=resources("phonopy"),
        )
    if REFERENCES:
        run(
            "asr.convex_hull",
            atoms=atoms,
            energy=gs.result.energy,
            databases=REFERENCES,
            resources="1:10m",
        )

    if setup["expensive"]:
        for name in ("asr.bader", "asr.proj_bandstructure"):
            run(name, atoms=atoms, **gs_calc, deps=[gs], resources=resources("gs"))

    # Branches on results: collecting waits here until they are known.
    if magstate.result.magstate != "nm":
        run(
            "asr.magnetic_anisotropy",
            atoms=atoms,
            **gs_calc,
            deps=[gs],
            resources=resources("magnetic_anisotropy"),
        )
        if setup["expensive"]:
            run("asr.exchange", atoms=atoms, **gs_calc, resources=resources("exchange"))
    if gs.result.gap > 0:
        run(
            "asr.emasses",
            atoms=atoms,
            **gs_calc,
            **setup["emasses"],
            deps=[gs],
            resources=resources("gs"),
        )
        if setup["expensive"]:
            for name in ("hse", "gw", "bse", "polarizability", "borncharges"):
                run(
                    f"asr.{name}",
                    atoms=atoms,
                    **gs_calc,
                    deps=[gs],
                    resources=resources(name),
                )
    else:  # a metal
        run("asr.fermisurface", atoms=atoms, **gs_calc, deps=[gs], resources="1:30m")
        if setup["expensive"]:
            run("asr.plasmafrequency", atoms=atoms, **gs_calc, deps=[gs])
    # Not in this workflow (they need setups of their own): asr.defectformation,
    # asr.deformationpotentials, asr.piezoelectrictensor, asr.raman, asr.shg,
    # asr.shift, asr.infraredpolarizability, asr.formalpolarization, asr.berry.
