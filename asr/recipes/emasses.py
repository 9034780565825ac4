"""Effective mass tensors at the valence band maximum and conduction band minimum.

Starting at the band extrema (with spin-orbit coupling) of `asr.gs`, the band
is computed non-self-consistently (GPAW's ``fixed_density``, then
`gpaw.spinorbit.soc_eigenstates`) on a small cube of k-points around the
extremum, `npoints` per periodic direction. A second order polynomial in k is
fitted to it by least squares; the extremum moves to the stationary point of
the fit (or to the lowest/highest point of the cube, if the stationary point
lies outside) and the cube shrinks, once per entry of `radii`. The Hessian H
of the last fit gives the inverse mass tensor, m/mₑ = (ħ²/mₑ) H⁻¹: its
eigenvectors are the principal directions, its eigenvalues the masses
(negative for the valence band, whose curvature is negative).

How parabolic the band is: the band is computed again along each principal
direction out to where the parabola rises 25 meV above the extremum, and
`mare` is the mean absolute error of the parabola there relative to its own
energy (in %). A large MARE means the masses describe the band only very near
the extremum (non-parabolic or degenerate bands, such as the heavy and light
holes at Γ in silicon).

For 2D materials only the in-plane directions (x and y) count.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from asr.core import Result, instruction, key, register_dataclass

from .common import DEFAULT_GPAW, dimensionality, fixed_density
from .gs import main as groundstate
from .spinaxis import spin_axis

# ħ²/mₑ in eV Å².
HBAR2_OVER_ME = units.Ha * units.Bohr**2
# Energy window of the parabolicity measure (eV).
MARE_WINDOW = 0.025
# Points along each principal direction for the parabolicity measure.
MARE_POINTS = 9


@register_dataclass
@dataclass
class EdgeMasses:
    """The effective masses at one band edge and the data behind them."""

    kind: str  # "vb" or "cb"
    k: np.ndarray  # scaled k-point of the extremum
    energy: float  # band energy at the extremum (GPAW's scale), eV
    masses: np.ndarray  # principal masses, lightest first, in mₑ
    directions: np.ndarray  # principal directions (rows, Cartesian unit vectors)
    mass_tensor: np.ndarray  # (ħ²/mₑ) H⁻¹ in the periodic Cartesian axes, mₑ
    mare: float  # mean absolute relative error of the parabola, %
    offsets: np.ndarray  # (directions, points): distance from the extremum, Å⁻¹
    band_energies: np.ndarray  # computed band energies there, relative, eV
    fit_energies: np.ndarray  # the parabola there, relative, eV

    def summary(self) -> str:
        masses = ", ".join(f"{m:.3f}" for m in self.masses)
        return f"{self.kind}: masses [{masses}] mₑ, MARE {self.mare:.1f} %"


@dataclass
class EffectiveMassesResult(Result):
    title = "Effective masses"
    emass_vb_dir1: float = field(
        metadata=key(
            "Effective mass of the valence band, lightest direction",
            "mₑ",
            database=True,
        )
    )
    emass_vb_dir2: float = field(
        metadata=key(
            "Effective mass of the valence band, direction 2", "mₑ", database=True
        )
    )
    emass_vb_dir3: float | None = field(
        metadata=key(
            "Effective mass of the valence band, direction 3 (3D)", "mₑ", database=True
        )
    )
    emass_cb_dir1: float = field(
        metadata=key(
            "Effective mass of the conduction band, lightest direction",
            "mₑ",
            database=True,
        )
    )
    emass_cb_dir2: float = field(
        metadata=key(
            "Effective mass of the conduction band, direction 2", "mₑ", database=True
        )
    )
    emass_cb_dir3: float | None = field(
        metadata=key(
            "Effective mass of the conduction band, direction 3 (3D)",
            "mₑ",
            database=True,
        )
    )
    mare_vb: float = field(
        metadata=key(
            "Parabolicity of the valence band: mean absolute relative error of "
            "the parabola within 25 meV of the extremum",
            "%",
            database=True,
        )
    )
    mare_cb: float = field(
        metadata=key(
            "Parabolicity of the conduction band: mean absolute relative error "
            "of the parabola within 25 meV of the extremum",
            "%",
            database=True,
        )
    )
    vb: EdgeMasses = field(
        metadata=key("Valence band: extremum, mass tensor, directions, fit data")
    )
    cb: EdgeMasses = field(
        metadata=key("Conduction band: extremum, mass tensor, directions, fit data")
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.6))
        axes = fig.subplots(1, 2)
        for ax, edge, name in zip(axes, (self.vb, self.cb), ("VBM", "CBM")):
            for i, (t, e, fit) in enumerate(
                zip(edge.offsets, edge.band_energies, edge.fit_energies)
            ):
                label = f"dir {i + 1}: m = {edge.masses[i]:.3f} mₑ"
                smooth = np.linspace(t.min(), t.max(), 101)
                parabola = np.polyval(np.polyfit(t, fit, 2), smooth)
                ax.plot(smooth, 1000 * parabola, color=f"C{i}", label=label)
                ax.plot(t, 1000 * e, "o", color=f"C{i}", mfc="none")
            ax.set_title(f"{name}, MARE {edge.mare:.1f} %")
            ax.set_xlabel(r"$k - k_0$ along the direction [Å$^{-1}$]")
            ax.set_ylabel(r"$E - E_0$ [meV]")
            ax.legend(fontsize="small")
        fig.tight_layout()
        path = Path(folder) / "emasses.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["emasses.png"]
        return panel


# -- fitting (no GPAW) ---------------------------------------------------------


def design_matrix(q: np.ndarray) -> np.ndarray:
    """Columns 1, q_i, q_i q_j (i <= j) of a second order polynomial in q."""
    n = q.shape[1]
    columns = [np.ones(len(q))]
    columns += [q[:, i] for i in range(n)]
    columns += [
        q[:, i] * q[:, j]
        for i, j in itertools.combinations_with_replacement(range(n), 2)
    ]
    return np.array(columns).T


@dataclass
class Parabola:
    """E(q) = e0 + g·q + q·H·q / 2, fitted around q = 0 (Cartesian, Å⁻¹)."""

    e0: float
    gradient: np.ndarray
    hessian: np.ndarray

    @classmethod
    def fit(cls, q: np.ndarray, energies: np.ndarray) -> Parabola:
        n = q.shape[1]
        if len(q) < 1 + n + n * (n + 1) // 2:
            raise ValueError("too few k-points for a second order fit")
        c, *_ = np.linalg.lstsq(design_matrix(q), energies, rcond=None)
        hessian = np.zeros((n, n))
        pairs = itertools.combinations_with_replacement(range(n), 2)
        for coefficient, (i, j) in zip(c[1 + n :], pairs):
            if i == j:
                hessian[i, i] = 2 * coefficient
            else:
                hessian[i, j] = hessian[j, i] = coefficient
        return cls(float(c[0]), np.array(c[1 : 1 + n]), hessian)

    def __call__(self, q: np.ndarray) -> np.ndarray:
        q = np.atleast_2d(q)
        return (
            self.e0
            + q @ self.gradient
            + 0.5 * np.einsum("ki,ij,kj->k", q, self.hessian, q)
        )

    def stationary_point(self) -> np.ndarray | None:
        try:
            return -np.linalg.solve(self.hessian, self.gradient)
        except np.linalg.LinAlgError:
            return None

    def is_extremum(self, kind: str) -> bool:
        """A maximum for the valence band, a minimum for the conduction band."""
        eigenvalues = np.linalg.eigvalsh(self.hessian)
        return bool(
            np.all(eigenvalues < 0) if kind == "vb" else np.all(eigenvalues > 0)
        )


def principal_masses(hessian: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masses (mₑ, lightest first) and their directions (rows) from a Hessian."""
    curvatures, vectors = np.linalg.eigh(hessian)
    masses = HBAR2_OVER_ME / curvatures
    order = np.argsort(np.abs(masses))
    return masses[order], vectors[:, order].T


def cube(n_axes: int, radius: float, npoints: int) -> np.ndarray:
    """Offsets of a cube of `npoints` per axis, from -radius to radius."""
    line = np.linspace(-radius, radius, npoints)
    return np.array(list(itertools.product(line, repeat=n_axes)))


def mare_percent(fit: np.ndarray, energies: np.ndarray, e0: float) -> float:
    """Mean |fit - computed| relative to |fit - e0|, over points away from e0."""
    rise = np.abs(fit - e0)
    away = rise > 1e-3 * rise.max()
    return float(100 * np.mean(np.abs(fit - energies)[away] / rise[away]))


# -- GPAW ------------------------------------------------------------------------


class BandSampler:
    """Energies of one band (with spin-orbit coupling) at any k-points."""

    def __init__(self, gpw, calculator: dict, atoms: Atoms, efermi: float):
        self.gpw = gpw
        self.calculator = calculator
        self.theta, self.phi = spin_axis(atoms, calculator)
        self.efermi = efermi
        self.reciprocal = 2 * np.pi * atoms.cell.reciprocal()
        self.n_axes = 3 if dimensionality(atoms) == 3 else 2
        self.band: int | None = None

    def to_scaled(self, kc: np.ndarray) -> np.ndarray:
        return kc @ np.linalg.inv(self.reciprocal)

    def cartesian(self, q: np.ndarray) -> np.ndarray:
        """Periodic components q (x, y[, z]) as full Cartesian vectors."""
        full = np.zeros((len(q), 3))
        full[:, : self.n_axes] = q
        return full

    def energies(self, kind: str, center: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The band at center + q (Cartesian offsets in the periodic axes)."""
        from gpaw.spinorbit import soc_eigenstates

        kpts = self.to_scaled(center + self.cartesian(q))
        calc = fixed_density(self.gpw, self.calculator, kpts=kpts, symmetry="off")
        e_km = soc_eigenstates(calc, theta=self.theta, phi=self.phi).eigenvalues()
        if self.band is None:
            nocc = int(np.median((e_km < self.efermi).sum(axis=1)))
            self.band = nocc - 1 if kind == "vb" else nocc
        return e_km[:, self.band]


def refine(
    sampler: BandSampler, kind: str, k0: np.ndarray, radii, npoints: int
) -> tuple[np.ndarray, Parabola]:
    """The extremum (Cartesian) and the fit of the last, smallest cube."""
    center = np.asarray(k0, dtype=float) @ sampler.reciprocal
    fit = None
    for radius in radii:
        q = cube(sampler.n_axes, radius, npoints)
        energies = sampler.energies(kind, center, q)
        fit = Parabola.fit(q, energies)
        step = fit.stationary_point()
        if step is None or not fit.is_extremum(kind) or np.abs(step).max() > radius:
            best = np.argmax(energies) if kind == "vb" else np.argmin(energies)
            step = q[best]
        center = center + sampler.cartesian(step[np.newaxis])[0]
        # Re-centre the fit on the new extremum (a parabola keeps its Hessian).
        fit = Parabola(
            float(fit(step)[0]), fit.gradient + fit.hessian @ step, fit.hessian
        )
    return center, fit


def edge_masses(
    sampler: BandSampler, kind: str, k0: np.ndarray, radii, npoints: int
) -> EdgeMasses:
    center, fit = refine(sampler, kind, k0, radii, npoints)
    masses, directions = principal_masses(fit.hessian)
    # Along each principal direction, out to where the parabola rises 25 meV.
    reach = np.sqrt(2 * MARE_WINDOW * np.abs(masses) / HBAR2_OVER_ME)
    offsets = np.array([np.linspace(-r, r, MARE_POINTS) for r in reach])
    q = np.concatenate([t[:, np.newaxis] * d for t, d in zip(offsets, directions)])
    computed = sampler.energies(kind, center, q)
    fitted = fit(q)
    shape = offsets.shape
    return EdgeMasses(
        kind=kind,
        k=sampler.to_scaled(center),
        energy=float(fit.e0),
        masses=masses,
        directions=sampler.cartesian(directions),
        mass_tensor=HBAR2_OVER_ME * np.linalg.inv(fit.hessian),
        mare=mare_percent(fitted, computed, fit.e0),
        offsets=offsets,
        band_energies=computed.reshape(shape) - fit.e0,
        fit_energies=fitted.reshape(shape) - fit.e0,
    )


def mass(edge: EdgeMasses, i: int) -> float | None:
    return float(edge.masses[i]) if i < len(edge.masses) else None


@instruction("asr.emasses", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    radii: tuple = (0.12, 0.06, 0.03),
    npoints: int = 5,
) -> EffectiveMassesResult:
    """Effective mass tensors at the VBM and CBM (with spin-orbit coupling).

    `radii` (Å⁻¹) are the half-widths of the successive k-point cubes around
    the extremum, `npoints` the points per periodic direction of each cube.
    """
    if dimensionality(atoms) < 2:
        raise ValueError("effective masses need a 2D or 3D periodic structure")
    if npoints < 3 or not radii:
        raise ValueError("use npoints >= 3 and at least one radius")
    gs = groundstate(atoms, calculator).result
    if gs.gap_soc <= 0.0 or gs.k_vbm_soc is None:
        raise ValueError(
            "the material is a metal (no band gap with spin-orbit coupling): "
            "effective masses need band edges"
        )
    edges = {}
    for kind, k0 in (("vb", gs.k_vbm_soc), ("cb", gs.k_cbm_soc)):
        sampler = BandSampler(gs.gpw.path, calculator, atoms, gs.efermi_soc)
        edges[kind] = edge_masses(sampler, kind, k0, radii, npoints)
    vb, cb = edges["vb"], edges["cb"]
    return EffectiveMassesResult(
        emass_vb_dir1=mass(vb, 0),
        emass_vb_dir2=mass(vb, 1),
        emass_vb_dir3=mass(vb, 2),
        emass_cb_dir1=mass(cb, 0),
        emass_cb_dir2=mass(cb, 1),
        emass_cb_dir3=mass(cb, 2),
        mare_vb=vb.mare,
        mare_cb=cb.mare,
        vb=vb,
        cb=cb,
    )
