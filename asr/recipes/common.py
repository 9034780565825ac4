"""What recipes share: dimensionality, calculators with k-point densities."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.calculators import get_calculator, gpaw_txt

# Conservative defaults for production; tests pass tiny ones.
DEFAULT_GPAW = {
    "name": "gpaw",
    "mode": {"name": "pw", "ecut": 800},
    "xc": "PBE",
    "kpts": {"density": 12.0, "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
    "convergence": {"bands": "CBM+3.0"},
    "nbands": "300%",
    "txt": None,
}

# For forces and stress (relax, stiffness, phonons): forces converged to
# 1e-4 eV/Å, and no extra bands (they do not change forces).
DEFAULT_GPAW_FORCES = {
    **{k: v for k, v in DEFAULT_GPAW.items() if k != "nbands"},
    "convergence": {"forces": 1e-4},
}


def dimensionality(atoms: Atoms) -> int:
    """0, 1, 2 or 3: the number of periodic directions (2D: vacuum along z)."""
    return int(np.sum(atoms.pbc))


def check_2d(atoms: Atoms) -> None:
    if dimensionality(atoms) == 2 and tuple(atoms.pbc) != (True, True, False):
        raise ValueError(
            "2D structures must be periodic along x and y, with vacuum along z"
        )


def kpts_for(atoms: Atoms, density: float, gamma: bool = True) -> dict[str, Any]:
    """A k-point density that puts a single point along non-periodic axes.

    On a hexagonal lattice (a = b, c perpendicular to both, γ = 60° or 120°)
    a Γ-centred grid holds the K point only when its size is a multiple of 3
    (band edges of MoS2, h-BN, graphene are there): such grids are rounded up.
    """
    from ase.calculators.calculator import kptdensity2monkhorstpack

    size = kptdensity2monkhorstpack(atoms, kptdensity=density, even=False)
    size = [int(n) if p else 1 for n, p in zip(size, atoms.pbc, strict=True)]
    a, b, _c, alpha, beta, gamma_angle = atoms.cell.cellpar()
    hexagonal = (
        abs(a - b) < 1e-6 * a
        and abs(alpha - 90) < 1e-3
        and abs(beta - 90) < 1e-3
        and min(abs(gamma_angle - 60), abs(gamma_angle - 120)) < 1e-3
    )
    if hexagonal and gamma and all(atoms.pbc[:2]):
        size[:2] = [3 * -(-n // 3) for n in size[:2]]
    return {"size": size, "gamma": gamma}


def gpaw_spec_for(atoms: Atoms, spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with GPAW's dipole correction along z when `atoms` is 2D.

    A polar layer (a Janus MoSSe, say) in a periodic cell otherwise feels a
    spurious field across the vacuum. Every recipe that runs GPAW on a 2D
    structure (ground state, relaxations, strained cells) goes through here,
    so they all share the Hamiltonian of `asr.gs`. A specification that names
    its own Poisson solver, and any other calculator, is left as it is.
    """
    spec = copy.deepcopy(dict(spec))
    if (
        spec.get("name", "").lower() == "gpaw"
        and dimensionality(atoms) == 2
        and "poissonsolver" not in spec
    ):
        spec["poissonsolver"] = {"dipolelayer": "xy"}
    return spec


def calculator_for(atoms: Atoms, spec: dict[str, Any], **overrides):
    """An ASE calculator from a specification, with k-points fitted to `atoms`."""
    spec = copy.deepcopy(dict(spec))
    kpts = spec.get("kpts")
    if isinstance(kpts, dict) and "density" in kpts:
        spec["kpts"] = kpts_for(atoms, kpts["density"], kpts.get("gamma", True))
    if spec.get("name", "").lower() == "gpaw" and isinstance(spec.get("mode"), dict):
        from gpaw import PW

        mode = dict(spec["mode"])
        if mode.get("name") == "pw":
            spec["mode"] = PW(mode["ecut"])
    return get_calculator(spec, **overrides)


def fixed_density(gpw: str | Path, calculator: dict[str, Any], **parameters):
    """GPAW's non-self-consistent calculation at the density of a ground state.

    `parameters` go to GPAW's ``fixed_density`` (``kpts``, ``symmetry``, ...).
    Unless `calculator` (the ground state's specification) says otherwise,
    bands up to 3 eV above the conduction band minimum (the Fermi level of a
    metal) are converged, with twice as many bands as occupied ones in the
    plane-wave and grid modes (LCAO has all its bands anyway).
    """
    from gpaw import GPAW

    calc = GPAW(gpw, txt=None)
    convergence = calculator.get("convergence") or {}
    parameters["txt"] = gpaw_txt(parameters.get("txt"))  # the run's log
    parameters.setdefault("convergence", {"bands": convergence.get("bands", "CBM+3.0")})
    mode = calculator.get("mode", "fd")
    mode = mode.get("name", "fd") if isinstance(mode, dict) else str(mode)
    if mode.lower() != "lcao" and "nbands" not in calculator:
        parameters.setdefault("nbands", "200%")
    return calc.fixed_density(**parameters)


def open_database(path: str | Path):
    """An existing ASE database (`ase.db.connect` would create a missing one)."""
    from ase.db import connect

    if not Path(path).is_file():
        raise ValueError(f"no database file at {str(path)!r}")
    return connect(path)
