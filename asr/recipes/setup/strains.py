"""Strained copies of a structure: ± `strain_percent` along each Voigt component.

The cells of `asr.stiffness`, `asr.deformationpotentials` and
`asr.piezoelectrictensor`: those recipes strain their cells with `strained`
below, so a workflow can make each strained cell's calculation a task of its
own, and the recipe then finds them all in the store. The independent
components are xx, yy, zz, yz, xz, xy (Voigt order) of a 3D material and
xx, yy, xy of a 2D one; shears are engineering strains (2ε_xy). Structure
``k`` has component ``k // 2``, strained by ``-`` first, then ``+``; its
label reads like ``"xy+1%"``. A workflow relaxes each at fixed cell::

    strains = run("asr.setup.strains", atoms=atoms)
    spec = with_fixed_kpts(atoms, calculator)  # the unstrained cell's k-points
    relaxations = [
        run("asr.relax", atoms=cell, calculator=spec, fmax=0.01, fix_cell=True,
            allow_symmetry_breaking=True)
        for cell in strains.result.structures
    ]
    run("asr.stiffness", atoms=atoms, calculator=calculator, deps=relaxations)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from ..common import dimensionality, kpts_for

VOIGT_LABELS = ("xx", "yy", "zz", "yz", "xz", "xy")
# Voigt components of a material with 3 and 2 periodic directions.
COMPONENTS = {3: (0, 1, 2, 3, 4, 5), 2: (0, 1, 5)}


@dataclass
class StrainsResult(Result):
    title = "Strained structures"
    structures: list = field(metadata=key("Strained structures"))
    labels: list = field(metadata=key("Label of each structure, e.g. xy+1%"))
    components: list = field(metadata=key("Voigt label of each structure's strain"))
    signs: np.ndarray = field(metadata=key("Sign of each structure's strain (±1)"))
    strain_percent: float = field(metadata=key("Size of the strains", "%"))


def strained(atoms: Atoms, component: int, strain: float) -> Atoms:
    """`atoms` with Voigt strain `strain` (engineering strain for shears)."""
    from ase.stress import voigt_6_to_full_3x3_strain

    vector = np.zeros(6)
    vector[component] = strain
    deformation = voigt_6_to_full_3x3_strain(vector)
    new = atoms.copy()
    new.set_cell(atoms.cell.array @ deformation.T, scale_atoms=True)
    return new


def with_fixed_kpts(atoms: Atoms, calculator: dict) -> dict:
    """The specification with a k-point density turned into a fixed grid.

    All strained cells then use the k-points of the unstrained cell.
    """
    spec = dict(calculator)
    kpts = spec.get("kpts")
    if isinstance(kpts, dict) and "density" in kpts:
        spec["kpts"] = kpts_for(atoms, kpts["density"], kpts.get("gamma", True))
    return spec


def voigt_components(atoms: Atoms) -> tuple[int, ...]:
    """The independent strain components of a 3D or 2D (xy-periodic) material."""
    dim = dimensionality(atoms)
    if dim not in COMPONENTS:
        raise ValueError(
            f"strained cells need a 3D or 2D material; this one has {dim} periodic "
            "directions"
        )
    if dim == 2 and tuple(atoms.pbc) != (True, True, False):
        raise ValueError("2D materials must be periodic along x and y")
    return COMPONENTS[dim]


@instruction("asr.setup.strains", version=0)
def main(
    atoms: Atoms,
    strain_percent: Annotated[float, "%"] = 1.0,
    components: tuple | None = None,
) -> StrainsResult:
    """Strain `atoms` by ∓ `strain_percent` along each of the Voigt `components`.

    `components` are Voigt labels (None: every independent one).
    """
    allowed = [VOIGT_LABELS[i] for i in voigt_components(atoms)]
    names = allowed if components is None else list(components)
    unknown = [c for c in names if c not in allowed]
    if unknown or not names:
        raise ValueError(f"strain components must be among {allowed}: {unknown}")
    if not strain_percent > 0:
        raise ValueError(f"strain_percent must be positive, not {strain_percent}")
    strain = strain_percent / 100
    structures, labels, signs, labelled = [], [], [], []
    for name in names:
        for sign in (-1, 1):
            structures.append(strained(atoms, VOIGT_LABELS.index(name), sign * strain))
            labels.append(f"{name}{'+' if sign > 0 else '-'}{strain_percent:g}%")
            signs.append(sign)
            labelled.append(name)
    return StrainsResult(
        structures=structures,
        labels=labels,
        components=labelled,
        signs=np.array(signs),
        strain_percent=float(strain_percent),
    )
