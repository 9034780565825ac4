"""Tiny magnets shared by the tests of spin-orbit coupling along a spin axis."""

from ase import Atoms


def iron_dimer() -> Atoms:
    """Fe2 along z: its spins prefer to lie perpendicular to the bond."""
    atoms = Atoms("Fe2", positions=[[0, 0, 0], [0, 0, 2.0]], magmoms=[3, 3])
    atoms.center(vacuum=2.5)
    return atoms
