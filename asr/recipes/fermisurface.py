"""Fermi surface of a metal, with the spin of its states (spin-orbit coupling).

The eigenvalues and spin projections with spin-orbit coupling
(`gpaw.spinorbit.soc_eigenstates`; spins along the easy axis of a magnet,
projected on it, along z otherwise: `asr.recipes.spinaxis`) on the full
k-point grid of `asr.gs` give

* for a 2D metal: the Fermi contours, the lines where a band crosses the Fermi
  level in the kx-ky plane (linear interpolation between the grid points),
  clipped to the first Brillouin zone;
* for a 3D metal: the points where a band crosses the Fermi level along the
  edges of the k-point grid (linear interpolation between neighbouring grid
  points), folded into the first Brillouin zone: a point cloud of the Fermi
  surface whose density follows the grid.

k-vectors are Cartesian, in Å⁻¹ including the factor 2π.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .gs import main as groundstate
from .spinaxis import spin_along_axis, spin_axis


@dataclass
class FermiSurfaceResult(Result):
    title = "Fermi surface"
    dimensionality: int = field(metadata=key("Number of periodic directions"))
    contours: np.ndarray | None = field(
        metadata=key(
            "2D: points of the Fermi contours, rows (kx, ky, spin on the spin "
            "axis, line number); None for 3D",
            "Å⁻¹",
        )
    )
    kpoints: np.ndarray | None = field(
        metadata=key(
            "3D: points where a band crosses the Fermi level, rows (kx, ky, kz); "
            "None for 2D",
            "Å⁻¹",
        )
    )
    spin_z: np.ndarray | None = field(
        metadata=key(
            "3D: spin projection of the band at each of those points on the spin "
            "axis (z unless a magnet's easy axis is x or y)"
        )
    )
    reciprocal_cell: np.ndarray = field(
        metadata=key("Reciprocal lattice vectors (rows) including 2π", "Å⁻¹")
    )
    efermi: float = field(
        metadata=key("Fermi level with spin-orbit coupling (of asr.gs)", "eV")
    )
    nbands_crossing: int = field(
        metadata=key("Number of bands crossing the Fermi level", database=True)
    )

    def figures(self, folder: Path) -> list[Path]:
        from ase.cell import Cell
        from ase.dft.bz import bz_plot
        from matplotlib.figure import Figure

        # ASE draws the zone of cell.reciprocal(), which has no factor 2π.
        cell = Cell(np.linalg.inv(self.reciprocal_cell / (2 * np.pi)).T)
        fig = Figure(figsize=(5.6, 4.8))
        if self.dimensionality == 3:
            ax = fig.add_subplot(projection="3d")
            bz_plot(cell, ax=ax)
            points = self.kpoints / (2 * np.pi)
            image = ax.scatter(
                *points.T, c=self.spin_z, cmap="coolwarm", vmin=-1, vmax=1, s=6
            )
        else:
            from matplotlib.collections import LineCollection

            flat = cell.array.copy()
            flat[2] = 0.0
            ax = fig.add_subplot()
            bz_plot(Cell(flat), ax=ax)
            segments, colors = [], []
            for line in np.unique(self.contours[:, 3]):
                points = self.contours[self.contours[:, 3] == line]
                xy = points[:, :2] / (2 * np.pi)
                segments += list(np.stack([xy[:-1], xy[1:]], axis=1))
                colors += list((points[:-1, 2] + points[1:, 2]) / 2)
            image = LineCollection(
                segments, array=np.array(colors), cmap="coolwarm", linewidths=2
            )
            image.set_clim(-1, 1)
            ax.add_collection(image)
        label = r"$\langle s \rangle$ on the spin axis"
        fig.colorbar(image, ax=ax, label=label, shrink=0.8)
        path = Path(folder) / "fermisurface.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["fermisurface.png"]
        return panel


def lattice_vectors(reciprocal: np.ndarray, n_axes: int) -> np.ndarray:
    """Reciprocal lattice vectors with coefficients -1, 0, 1 on the periodic axes."""
    steps = itertools.product((-1, 0, 1), repeat=n_axes)
    coefficients = np.array([list(s) + [0] * (3 - n_axes) for s in steps])
    return coefficients @ reciprocal


def in_first_zone(kc: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Whether each k-point is nearer to Γ than to any other lattice point."""
    distances = np.linalg.norm(kc[:, np.newaxis] - lattice[np.newaxis], axis=2)
    return distances.min(axis=1) >= np.linalg.norm(kc, axis=1) - 1e-9


def fold(kc: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """k-points moved into the first Brillouin zone."""
    distances = np.linalg.norm(kc[:, np.newaxis] - lattice[np.newaxis], axis=2)
    return kc - lattice[np.argmin(distances, axis=1)]


def on_grid(values_k: np.ndarray, bzk_kc: np.ndarray, size) -> np.ndarray:
    """Values at the k-points of a Monkhorst-Pack grid as an (n1, n2, n3) array."""
    from ase.dft.kpoints import get_monkhorst_pack_size_and_offset

    _, offset = get_monkhorst_pack_size_and_offset(bzk_kc)
    size = np.asarray(size)
    index = np.round((bzk_kc - offset) * size + (size - 1) / 2).astype(int) % size
    grid = np.empty(tuple(size))
    grid[index[:, 0], index[:, 1], index[:, 2]] = values_k
    return grid


def grid_points(bzk_kc: np.ndarray) -> np.ndarray:
    """Scaled coordinates of the grid points, as an (n1, n2, n3, 3) array."""
    from ase.dft.kpoints import get_monkhorst_pack_size_and_offset

    size, offset = get_monkhorst_pack_size_and_offset(bzk_kc)
    axes = [(np.arange(n) - (n - 1) / 2) / n + o for n, o in zip(size, offset)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def fermi_crossings(
    e_km: np.ndarray, s_km: np.ndarray, bzk_kc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled points where a band crosses zero along a grid edge, and the spin there."""
    from ase.dft.kpoints import get_monkhorst_pack_size_and_offset

    size, _ = get_monkhorst_pack_size_and_offset(bzk_kc)
    k_c = grid_points(bzk_kc)
    points, spins = [], []
    for m in range(e_km.shape[1]):
        e = on_grid(e_km[:, m], bzk_kc, size)
        if not e.min() < 0.0 < e.max():
            continue
        sz = on_grid(s_km[:, m], bzk_kc, size)
        for axis, n in enumerate(size):
            # The neighbour one step along `axis` (periodic grid).
            e2 = np.roll(e, -1, axis=axis)
            cross = (e < 0) != (e2 < 0)
            t = e[cross] / (e[cross] - e2[cross])
            step = np.zeros(3)
            step[axis] = 1 / n
            points.append(k_c[cross] + t[:, np.newaxis] * step)
            sz2 = np.roll(sz, -1, axis=axis)
            spins.append((1 - t) * sz[cross] + t * sz2[cross])
    if not points:
        return np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(points), np.concatenate(spins)


def fermi_contours(
    e_km: np.ndarray, s_km: np.ndarray, bzk_kc: np.ndarray, reciprocal: np.ndarray
) -> np.ndarray:
    """Rows (kx, ky, spin, line) of the zero-energy lines of bands in 2D."""
    import contourpy
    from ase.dft.kpoints import get_monkhorst_pack_size_and_offset
    from scipy.interpolate import RegularGridInterpolator

    size, offset = get_monkhorst_pack_size_and_offset(bzk_kc)
    lattice = lattice_vectors(reciprocal, 2)
    n1, n2 = size[:2]
    # Scaled coordinates of the grid, repeated to cover [-1, 1] twice over.
    u = (np.arange(-n1, 2 * n1) - (n1 - 1) / 2) / n1 + offset[0]
    v = (np.arange(-n2, 2 * n2) - (n2 - 1) / 2) / n2 + offset[1]
    rows, line = [], 0
    for m in range(e_km.shape[1]):
        e = e_km[:, m]
        if not e.min() < 0.0 < e.max():
            continue
        energies = np.tile(on_grid(e, bzk_kc, size)[:, :, 0], (3, 3))
        spins = np.tile(on_grid(s_km[:, m], bzk_kc, size)[:, :, 0], (3, 3))
        spin_at = RegularGridInterpolator((u, v), spins)
        generator = contourpy.contour_generator(v, u, energies)  # x: v, y: u
        for vu in generator.lines(0.0):
            uv = vu[:, ::-1]
            kc = np.column_stack([uv, np.zeros(len(uv))]) @ reciprocal
            inside = in_first_zone(kc, lattice)
            # Split the line where it leaves the first zone.
            for piece in np.split(np.arange(len(uv)), np.flatnonzero(~inside)):
                piece = piece[inside[piece]]
                if len(piece) < 2:
                    continue
                sz = spin_at(uv[piece])
                rows.append(
                    np.column_stack([kc[piece, :2], sz, np.full(len(piece), line)])
                )
                line += 1
    return np.concatenate(rows) if rows else np.zeros((0, 4))


@instruction("asr.fermisurface", version=1, packages=("gpaw",))
def main(atoms: Atoms, calculator: dict = DEFAULT_GPAW) -> FermiSurfaceResult:
    """Fermi contours (2D) or points of the Fermi surface (3D) of a metal."""
    from gpaw import GPAW
    from gpaw.spinorbit import soc_eigenstates

    dim = dimensionality(atoms)
    if dim not in (2, 3):
        raise ValueError("a Fermi surface needs a 2D or 3D periodic structure")
    gs = groundstate(atoms, calculator).result
    if gs.gap_soc > 0.0:
        raise ValueError(
            f"{atoms.get_chemical_formula()} has a band gap of {gs.gap_soc:.3f} eV "
            "(with spin-orbit coupling): it has no Fermi surface"
        )
    calc = GPAW(gs.gpw.path, txt=None)
    theta, phi = spin_axis(atoms, calculator)
    soc = soc_eigenstates(calc, theta=theta, phi=phi)
    e_km = soc.eigenvalues() - gs.efermi_soc
    s_km = spin_along_axis(soc, theta, phi)
    bzk_kc = calc.get_bz_k_points()
    reciprocal = 2 * np.pi * atoms.cell.reciprocal()
    crossing = int(np.sum((e_km.min(axis=0) < 0) & (e_km.max(axis=0) > 0)))

    contours = kpoints = spin_z = None
    if dim == 2:
        contours = fermi_contours(e_km, s_km, bzk_kc, reciprocal)
    else:
        points, spin_z = fermi_crossings(e_km, s_km, bzk_kc)
        kpoints = fold(points @ reciprocal, lattice_vectors(reciprocal, 3))
    return FermiSurfaceResult(
        dimensionality=dim,
        contours=contours,
        kpoints=kpoints,
        spin_z=spin_z,
        reciprocal_cell=reciprocal,
        efermi=float(gs.efermi_soc),
        nbands_crossing=crossing,
    )
