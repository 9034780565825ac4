"""Electrostatic finite-size correction of a charged defect in a periodic cell.

A supercell with net charge q interacts with its periodic images and with
the neutralizing background GPAW adds. Freysoldt, Neugebauer and Van de
Walle (FNV; Phys. Rev. Lett. 102, 016402 (2009)) model the defect's charge
by a Gaussian of charge q and width σ screened by the host, and correct

    E_corr = E_lat + q ΔV,   E_lat = E_iso - E_per,
    ΔV = <V_model - (V_defect - V_pristine)>_far,

where E_iso and E_per are the model's energy alone and with its images and
background, and ΔV aligns the model's potential with the computed one far
from the defect. Potentials are electrostatic potentials (positive near a
positive charge; GPAW's `get_electrostatic_potential` is the electron's
potential energy, so it is negated), averaged over the planes spanned by
the first two cell vectors and compared in the planes farthest from the
defect along the third.

Bulk hosts (3D) screen with one isotropic ε: GPAW's `ElectrostaticCorrections`
gives E_lat. A 2D host (vacuum along z) screens only inside the layer:
ε_∥(z) and ε_⊥(z) equal the layer's in-plane and out-of-plane constants
inside a slab of `thickness` around it and 1 in vacuum (Freysoldt &
Neugebauer, Phys. Rev. B 97, 205425 (2018); Komsa et al., Phys. Rev. X 4,
031044 (2014)). For every in-plane wave vector k the model potential solves
a 1D problem in z,

    -d/dz ε_⊥ dφ/dz + k² ε_∥ φ = 4π ρ_k(z),

periodic in the cell (k on the in-plane reciprocal lattice, the k = 0 part
against the background) for E_per, and open (k continuous, φ ∝ e^{-k|z|}
in the vacuum outside) for the isolated defect in an infinite layer, E_iso.
Both use one finite-difference grid, so its error cancels in E_lat. A
charged 2D cell's E_per grows as π q² L_z / (6 A) with the vacuum L_z: so
does the correction, which is why 2D formation energies need it.

The periodic model has what the computed cell has: `asr.gs` gives a 2D
cell GPAW's dipole layer, which cancels the cell's dipole about its middle
(the field is zero at the cell's boundary, the step back sits there). A
net charge off that middle has such a dipole (a layer off the middle, a
defect off the layer's middle plane), and the model solves for it.

Checked against GPAW (`benchmarks/paper_check.py`; PBE, 300 eV, Γ,
unrelaxed vacancies, E_f without μ and at the VBM). First with ε = (6,
2.2) for hBN in its 3.3 Å slab (ε_⊥ the one for which the layer screens
the dipole layer's field as GPAW's does, ε_∥ the one for which 3x3 and
4x4 agree): hBN v_N⁺¹ in 3x3 at vacuum 10, 15, 20, 25 Å: uncorrected
7.52, 8.16, 8.87, 9.60 eV; E_lat 0.80, 0.13, -0.59, -1.33 eV; ΔV -0.06 to
-0.01 V; corrected 8.263, 8.257, 8.263, 8.258 eV. In 4x4: 8.19, 8.25,
8.23, 8.24 eV (uncorrected 7.33 to 8.55). The layer 3 Å off the cell's
middle: +0.96 eV uncorrected, 8.256 eV corrected. Then with ε = (4.77,
2.40) from `asr.polarizability` (α_∥ 0.991 Å, α_⊥ 0.153 Å, no fit): 3x3
corrected 8.496, 8.493, 8.500, 8.495 eV over the vacua, off the middle
+0.046 eV, 4x4 - 3x3 -0.064 eV (uncorrected -0.41). The flatness in the vacuum hardly
depends on ε (≤ 0.04 eV from ε = 1 to 8, and on the slab's thickness);
the level does (-0.66 eV from ε_∥ = 2 to 4). The thickness d matters
little once ε is the layer's polarizability α spread over d (ε_∥ = 1 +
4πα_∥/d, 1/ε_⊥ = 1 - 4πα_⊥/d): with α fixed, d = 2.0, 3.3, 5.0 Å give
8.28, 8.26, 8.43 eV, so the default (the atoms plus 3.3 Å, hBN's
interlayer distance) is fair when ε is computed for it.

ΔV is read in the vacuum far from the layer, where the planar average is
the k = 0 part alone and the model meets the computed potential to
~1 meV; reading it in the layer's plane away from the defect would need
the 3D model potential and larger cells than these.

A negative defect's electrons can leave the layer: the background digs a
well in the vacuum, ever deeper with L_z. hBN v_B⁻¹ in 3x3 holds 0.003,
0.05, 0.26, 0.34 e there at 10, 15, 20, 25 Å, and its "corrected" E_f
falls by 0.25, 1.8, 3.4 eV from 16.74 eV. `vacuum_charge` measures this
(it is why the computed potential in the vacuum curves less than the
model's); no correction of a charge in the layer undoes it: compute such
a state with little vacuum.

Energies here are in eV, lengths in Å; inside, Hartree atomic units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.units import Bohr, Hartree

# GPAW's default Gaussian: full width at half maximum 2 Bohr.
SIGMA = 2.0 * Bohr / (2 * np.sqrt(2 * np.log(2)))  # Å
# The vacuum of a 2D cell, for `vacuum_charge`, starts this far beyond the
# dielectric slab (Å): hBN's v_N⁺¹ and (at 10 Å of vacuum) v_B⁻¹ leave
# below 0.003 e there, v_B⁻¹'s spilled electrons 0.05-0.34 e.
VACUUM_MARGIN = 1.5


@dataclass
class Correction:
    """The finite-size correction of one charged supercell (eV)."""

    model: str  # "3D" or "2D"
    epsilon: tuple[float, ...]  # (ε,) or (ε_∥, ε_⊥)
    isolated: float  # E_iso
    periodic: float  # E_per
    alignment: float  # ΔV (V)
    charge: int
    vacuum_charge: float | None = None  # 2D: see `vacuum_charge` (e)

    @property
    def lattice(self) -> float:
        """E_lat = E_iso - E_per."""
        return self.isolated - self.periodic

    @property
    def energy(self) -> float:
        """E_corr = E_lat + q ΔV, added to the supercell's energy."""
        return self.lattice + self.charge * self.alignment


@dataclass
class Slab:
    """Dielectric profile of a 2D host: ε inside the layer, 1 in vacuum.

    The layer is `thickness` thick around `center` (Å, along z); its edges
    are smoothed over `smearing` (Å). A slab as thick as the cell is a
    uniform medium.
    """

    epsilon_parallel: float
    epsilon_perpendicular: float
    center: float
    thickness: float
    smearing: float = 0.5

    def profile(self, z: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
        """(ε_∥(z), ε_⊥(z)) at heights `z` (Å) in a cell `length` (Å) long."""
        from scipy.special import erf  # not at import: `asr list` starts light

        if self.thickness >= length:
            inside = np.ones_like(z)
        else:
            dz = (z - self.center + length / 2) % length - length / 2
            half, w = self.thickness / 2, self.smearing
            inside = 0.5 * (erf((dz + half) / w) - erf((dz - half) / w))
        return (
            1 + (self.epsilon_parallel - 1) * inside,
            1 + (self.epsilon_perpendicular - 1) * inside,
        )


def _solve_tridiagonal(lower, diagonal, upper, rhs):
    """Thomas algorithm over a batch: arrays (batch, n); lower[:, 0] unused."""
    n = diagonal.shape[1]
    c = np.empty_like(diagonal)
    d = np.empty_like(rhs)
    c[:, 0] = upper[:, 0] / diagonal[:, 0]
    d[:, 0] = rhs[:, 0] / diagonal[:, 0]
    for i in range(1, n):
        m = diagonal[:, i] - lower[:, i] * c[:, i - 1]
        c[:, i] = upper[:, i] / m
        d[:, i] = (rhs[:, i] - lower[:, i] * d[:, i - 1]) / m
    x = np.empty_like(rhs)
    x[:, -1] = d[:, -1]
    for i in range(n - 2, -1, -1):
        x[:, i] = d[:, i] - c[:, i] * x[:, i + 1]
    return x


def _solve_cyclic(lower, diagonal, upper, corner, rhs):
    """Symmetric cyclic tridiagonal systems (corner couples first and last)."""
    gamma = -diagonal[:, :1]
    b = diagonal.copy()
    b[:, :1] -= gamma
    b[:, -1:] -= corner * corner / gamma
    x = _solve_tridiagonal(lower, b, upper, rhs)
    u = np.zeros_like(rhs)
    u[:, :1] = gamma
    u[:, -1:] = corner
    y = _solve_tridiagonal(lower, b, upper, u)
    ratio = corner / gamma
    factor = (x[:, :1] + ratio * x[:, -1:]) / (1 + y[:, :1] + ratio * y[:, -1:])
    return x - factor * y


@dataclass
class SlabModel:
    """The Gaussian model charge in a 2D host's cell, on a grid along z."""

    cell: np.ndarray  # 3x3, Å; z along the third vector, normal to the others
    slab: Slab
    z0: float  # height of the charge, Å
    sigma: float = SIGMA  # Å
    spacing: float = 0.05  # grid along z, Å
    dipole_layer: float | None = None  # width (Å) of GPAW's dipole layer, if any

    def __post_init__(self):
        cell = np.asarray(self.cell, float)
        if abs(cell[:2, 2]).max() > 1e-8 or abs(cell[2, :2]).max() > 1e-8:
            raise ValueError("a 2D cell needs its vacuum along z, normal to the layer")
        self.length = cell[2, 2] / Bohr
        self.area = abs(np.linalg.det(cell[:2, :2])) / Bohr**2
        n = int(np.ceil(self.length / (self.spacing / Bohr)))
        self.h = self.length / n
        # The grid is centred on the charge: the isolated problem's open
        # ends lie in the vacuum across the cell from it.
        self.z = self.z0 / Bohr - self.length / 2 + np.arange(n) * self.h  # Bohr
        s = self.sigma / Bohr
        g = np.exp(-((self.z - self.z0 / Bohr) ** 2) / (2 * s**2))
        self.g = g / (g.sum() * self.h)  # unit charge per area, summing to 1
        eps_par, eps_perp = self.slab.profile(self.z * Bohr, self.length * Bohr)
        self.eps_par = eps_par
        mid = (self.z + self.h / 2) * Bohr
        self.eps_perp_mid = self.slab.profile(mid, self.length * Bohr)[1]
        self.kmax = 8.0 / s  # e^{-k²σ²} < 1e-27 beyond

    def sawtooth(self, u: np.ndarray) -> np.ndarray:
        """GPAW's dipole-layer profile at heights u in [0, L): u/L - 1/2,
        smoothed over `dipole_layer` Å around the cell's boundary u = 0
        (`gpaw.new.pw.poisson.DipoleLayerPWPoissonSolver`)."""
        length = self.length
        w = self.dipole_layer / Bohr / 2
        a, b = 1 / length - 0.75 / w, 0.25 / w**3
        saw = u / length - 0.5
        low, high = u < w, u > length - w
        saw[low] = u[low] * (a + b * u[low] ** 2)
        v = length - u[high]
        saw[high] = -v * (a + b * v**2)
        return saw

    def _operator(self, k: np.ndarray):
        """K + k² M of the symmetric finite-difference problem, per k."""
        e = self.eps_perp_mid / self.h  # coupling of node i and i + 1
        k2 = (k**2)[:, None]
        diagonal = (e + np.roll(e, 1))[None, :] + k2 * self.eps_par[None, :] * self.h
        upper = np.broadcast_to(-e, diagonal.shape).copy()
        lower = np.roll(upper, 1, axis=1)
        return lower, diagonal, upper

    def periodic_potential(self) -> np.ndarray:
        """φ(z) of the in-plane average (k = 0) of the periodic model, q = 1.

        In Hartree per unit charge; zero on average, as GPAW's potentials.
        The flux ε_⊥ φ' between nodes follows from the charge below, its
        constant from the periodicity of φ (exact for the discrete problem).

        With GPAW's dipole layer the flux vanishes at the cell's boundary
        instead (the field there is zero: GPAW cancels the cell's dipole
        about its middle, the polarization of the layer included) and φ
        steps back across it, smoothed as GPAW does. A net charge off the
        cell's middle has such a dipole, and so does a defect off the
        layer's middle plane.
        """
        rho = self.g / self.area - 1 / (self.area * self.length)
        inv = 1 / self.eps_perp_mid
        if not self.dipole_layer:
            flux = -4 * np.pi * self.h * np.cumsum(rho)
            flux -= np.sum(flux * inv) / np.sum(inv)
            phi = np.concatenate([[0.0], np.cumsum(self.h * flux * inv)[:-1]])
            return phi - phi.mean()
        # Nodes from the boundary up (u from 0 to L): the link after the
        # last one crosses the boundary, where the flux (the charge
        # enclosed from it, background included) is zero. Each node's
        # charge fills h around it: the one the boundary cuts counts in part.
        u = self.z % self.length
        first = int(np.argmin(u))
        u, rho, inv = (np.roll(x, -first) for x in (u, rho, inv))
        cut = rho[0] if u[0] <= self.h / 2 else rho[-1]
        flux = -4 * np.pi * (self.h * np.cumsum(rho) + (u[0] - self.h / 2) * cut)
        phi = np.concatenate([[0.0], np.cumsum(self.h * flux * inv)[:-1]])
        # 4π p / A: the sharp step from just below the boundary to above it.
        step = phi[-1] - phi[0] + self.h * flux[-1] * inv[-1]
        phi += step * (self.sawtooth(u) - (u / self.length - 0.5))
        return np.roll(phi - phi.mean(), first)

    def periodic_energy(self) -> float:
        """E_per (eV) of a unit charge: images and background included."""
        rho0 = self.g / self.area - 1 / (self.area * self.length)
        # Per cell: the area times the in-plane average's energy per area.
        energy = 0.5 * self.area * self.h * np.sum(rho0 * self.periodic_potential())
        b = 2 * np.pi * np.linalg.inv(self.cell[:2, :2] / Bohr).T  # rows b1, b2
        m = int(np.ceil(self.kmax / min(np.linalg.norm(b, axis=1)))) + 1
        i, j = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1))
        k = np.linalg.norm(i.reshape(-1, 1) * b[0] + j.reshape(-1, 1) * b[1], axis=1)
        k = k[(k > 1e-9) & (k < self.kmax)]
        k, count = np.unique(np.round(k, 10), return_counts=True)
        lower, diagonal, upper = self._operator(k)
        rhs = np.broadcast_to(4 * np.pi * self.h * self.g, diagonal.shape)
        corner = -self.eps_perp_mid[-1] / self.h
        phi = _solve_cyclic(lower, diagonal, upper, corner, rhs)
        per_k = self.h * phi @ self.g * np.exp(-(k**2) * (self.sigma / Bohr) ** 2)
        energy += 0.5 * np.sum(count * per_k) / self.area
        return float(energy * Hartree)

    def isolated_energy(self, points: int = 200) -> float:
        """E_iso (eV) of a unit charge alone in an infinite layer.

        The vacuum beyond the grid's ends (ε = 1, no charge) is exact:
        φ' = ±kφ there. The charge must sit away from the grid's ends.
        """
        if self.g[0] * self.length > 1e-8 or self.g[-1] * self.length > 1e-8:
            raise ValueError("the model charge reaches the cell's ends along z")
        x, w = np.polynomial.legendre.leggauss(points)
        k = (x + 1) / 2 * self.kmax
        w = w / 2 * self.kmax
        lower, diagonal, upper = self._operator(k)
        weights = np.full(len(self.z), self.h)  # the ends: half a cell each
        weights[[0, -1]] /= 2
        diagonal[:, [0, -1]] -= self.eps_perp_mid[-1] / self.h  # open ends
        diagonal[:, [0, -1]] += (
            (k**2)[:, None] * self.eps_par[[0, -1]] * (weights[[0, -1]] - self.h)
        )
        diagonal[:, [0, -1]] += k[:, None]
        rhs = np.broadcast_to(4 * np.pi * weights * self.g, diagonal.shape)
        phi = _solve_tridiagonal(lower, diagonal, upper, rhs)
        per_k = (phi * weights) @ self.g * np.exp(-(k**2) * (self.sigma / Bohr) ** 2)
        energy = 0.5 / (2 * np.pi) * np.sum(w * k * per_k)
        return float(energy * Hartree)


def planar_average_far(difference: np.ndarray, s0: float) -> float:
    """Mean of a planar-averaged profile over the planes far from `s0`.

    `difference` runs over the third cell vector (fractional coordinate
    i/n); far means within 1/8 of the cell of s0 + 1/2 (as GPAW's planar
    averages).
    """
    n = len(difference)
    s = np.arange(n) / n
    distance = np.abs((s - s0 - 0.5 + 0.5) % 1 - 0.5)
    return float(np.mean(difference[distance <= 0.125 + 0.5 / n]))


def gaussian_planar_potential(
    cell: np.ndarray, s0: float, sigma: float, epsilon: float, n: int
) -> np.ndarray:
    """Planar average (V) of a unit Gaussian's periodic potential in ε, 3D.

    Planes spanned by the first two cell vectors only see G = m b3.
    """
    cell = np.asarray(cell, float) / Bohr
    volume = abs(np.linalg.det(cell))
    b3 = 2 * np.pi * np.linalg.inv(cell)[:, 2]
    s = np.arange(n) / n
    m = np.arange(1, 4 * n)
    g2 = (m * np.linalg.norm(b3)) ** 2
    phi_m = 4 * np.pi * np.exp(-g2 * (sigma / Bohr) ** 2 / 2) / (epsilon * g2)
    phase = 2 * np.pi * np.outer(s - s0, m)
    return 2 * (np.cos(phase) @ phi_m) / volume * Hartree


def bulk_lattice_energies(
    cell: np.ndarray, charge: int, epsilon: float, sigma: float = SIGMA
) -> tuple[float, float]:
    """(E_iso, E_per) in eV of GPAW's 3D Gaussian model (isotropic ε)."""
    from ase import Atoms
    from gpaw.defects.electrostatics import ElectrostaticCorrections, build_ugarray

    atoms = Atoms(cell=cell, pbc=True)
    zero = build_ugarray(atoms, np.zeros((2, 2, 2)))
    model = ElectrostaticCorrections(
        zero,
        zero,
        charge=charge,
        epsilon=epsilon,
        sigma=sigma,
        r0=np.zeros(3),
    )
    periodic = model.calculate_periodic_correction() * Hartree
    isolated = model.calculate_isolated_correction() * Hartree
    return float(isolated), float(periodic)


def electrostatic_potential(gpw) -> tuple[np.ndarray, np.ndarray]:
    """(cell, φ on the grid) of a GPAW ground state, φ positive at + charges."""
    from gpaw import GPAW

    calc = GPAW(gpw, txt=None)
    return np.array(calc.atoms.cell), -calc.get_electrostatic_potential()


def dipole_layer_width(gpw) -> float | None:
    """Width (Å) of the dipole layer of a GPAW ground state; None: none.

    `asr.gs` gives every 2D calculation one (`common.gpaw_spec_for`).
    """
    from gpaw import GPAW

    parameters = GPAW(gpw, txt=None).parameters
    parameters = parameters.todict() if hasattr(parameters, "todict") else parameters
    solver = parameters.get("poissonsolver") or {}
    solver = solver.todict() if hasattr(solver, "todict") else dict(solver)
    if not solver.get("dipolelayer"):
        return None
    return float(solver.get("width", 1.0))


def correction(
    pristine_gpw,
    defect_gpw,
    position: np.ndarray,
    charge: int,
    epsilon: tuple[float, ...],
    thickness: float | None = None,
    center: float | None = None,
) -> Correction:
    """FNV correction of the charged defect at `position` (Å).

    `epsilon` is (ε,) for a bulk host, (ε_∥, ε_⊥) for a 2D host (then the
    layer is `thickness` Å thick around height `center`).
    """
    cell, v_pristine = electrostatic_potential(pristine_gpw)
    _, v_defect = electrostatic_potential(defect_gpw)
    if v_pristine.shape != v_defect.shape:
        raise ValueError("the defect and pristine grids differ")
    difference = (v_defect - v_pristine).mean(axis=(0, 1))
    dipole_layer = dipole_layer_width(defect_gpw) if len(epsilon) == 2 else None
    return aligned(
        cell, difference, position, charge, epsilon, thickness, center, dipole_layer
    )


def aligned(
    cell: np.ndarray,
    difference: np.ndarray,
    position: np.ndarray,
    charge: int,
    epsilon: tuple[float, ...],
    thickness: float | None = None,
    center: float | None = None,
    dipole_layer: float | None = None,
) -> Correction:
    """The correction from the planar average of V_defect - V_pristine (V).

    `dipole_layer`: the width (Å) of the dipole layer of the 2D calculation,
    None without; the model's periodic cell then has it too.
    """
    cell = np.asarray(cell, float)
    s0 = float(np.linalg.solve(cell.T, position)[2]) % 1
    n = len(difference)
    spill = None
    if len(epsilon) == 1:
        (eps,) = epsilon
        isolated, periodic = bulk_lattice_energies(cell, charge, eps)
        model = charge * gaussian_planar_potential(cell, s0, SIGMA, eps, n)
        kind = "3D"
    else:
        slab = Slab(*epsilon, center=center, thickness=thickness)
        setup = SlabModel(cell, slab, z0=float(position[2]), dipole_layer=dipole_layer)
        isolated = charge**2 * setup.isolated_energy()
        periodic = charge**2 * setup.periodic_energy()
        phi = charge * setup.periodic_potential() * Hartree
        model = np.interp(
            np.arange(n) / n * setup.length, setup.z, phi, period=setup.length
        )
        kind = "2D"
        spill = vacuum_charge(cell, model - difference, slab, dipole_layer)
    alignment = planar_average_far(model - difference, s0)
    return Correction(
        kind, tuple(map(float, epsilon)), isolated, periodic, alignment, charge, spill
    )


def vacuum_charge(
    cell: np.ndarray,
    residual: np.ndarray,
    slab: Slab,
    dipole_layer: float | None = None,
) -> float:
    """Charge (e) the computed cell holds in the vacuum beyond the model's.

    `residual` is V_model - (V_defect - V_pristine) along z (V). Its
    curvature is the computed charge the model lacks; by Gauss's law its
    slopes `VACUUM_MARGIN` beyond the slab's surfaces enclose that charge
    in the vacuum between them (closer, the defect's own tails count;
    within a `dipole_layer`, its steep step would). A
    negative 2D defect's electrons fall into the well the neutralizing
    background digs in the vacuum once the vacuum is wide enough: no point
    charge in the layer models them, and the corrected energy then falls
    with the vacuum instead of staying put.
    """
    length = float(cell[2, 2])
    n = len(residual)
    h = length / n
    half = slab.thickness / 2 + VACUUM_MARGIN
    if 2 * half > length - 4 * h:
        return 0.0  # no vacuum to speak of
    slope = (np.roll(residual, -1) - np.roll(residual, 1)) / (2 * h)  # V/Å
    lower, upper = slab.center + half, slab.center + length - half
    if dipole_layer:  # edges inside GPAW's dipole layer move beyond it
        edge = dipole_layer / 2 + 2 * h
        boundary = np.ceil((lower - edge) / length) * length  # next one up
        if abs(lower - boundary) < edge:
            lower = boundary + edge
        boundary = np.floor((upper + edge) / length) * length  # next one down
        if abs(upper - boundary) < edge:
            upper = boundary - edge
        if upper - lower < 4 * h:
            return 0.0
    bottom = int(round(lower / h)) % n
    top = int(round(upper / h)) % n
    area = abs(np.linalg.det(cell[:2, :2]))
    return float(area / (4 * np.pi * Hartree * Bohr) * (slope[top] - slope[bottom]))
