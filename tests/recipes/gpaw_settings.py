"""Tiny GPAW calculator settings for the recipe tests.

Each helper holds the defaults the tests have in common; a test passes only
what its calculation needs beyond them. Tests that share results through a
store must keep passing the same settings: the calculator is part of every
call's arguments.
"""

from __future__ import annotations


def lcao(kpts: list[int], **extra) -> dict:
    """LCAO with a double-zeta-polarised basis on a Γ-centred `kpts` grid."""
    return {
        "name": "gpaw",
        "mode": "lcao",
        "basis": "dzp",
        "h": 0.25,
        "xc": "PBE",
        "kpts": {"size": kpts, "gamma": True},
        "occupations": {"name": "fermi-dirac", "width": 0.05},
        "txt": None,
        **extra,
    }


def tiny_pw(kpts: list[int] | float, ecut: int = 200, **extra) -> dict:
    """Plane waves up to `ecut` eV on Γ-centred k-points.

    `kpts` is the size of the grid, or a number: a density in k-points per
    Å⁻¹.
    """
    if isinstance(kpts, int | float):
        kpoints = {"density": kpts, "gamma": True}
    else:
        kpoints = {"size": kpts, "gamma": True}
    return {
        "name": "gpaw",
        "mode": {"name": "pw", "ecut": ecut},
        "xc": "PBE",
        "kpts": kpoints,
        "occupations": {"name": "fermi-dirac", "width": 0.05},
        "txt": None,
        **extra,
    }
