"""Formation energies of point defects (vacancies and antisites) in charge states.

The defects come from `asr.setup.defects`: each in a supercell of the host.
With `relax` the atoms of every supercell (also the pristine one) are relaxed
in a fixed cell (`asr.relax`). The total energies are those of `asr.gs` for
a GPAW calculator, else of the given calculator (e.g. EMT). The formation
energy of a neutral defect is

    E_f = E_defect - E_pristine - Σ_i n_i μ_i,

where n_i atoms of element i were added (n_i < 0: removed) and μ_i is its
chemical potential. Without `chemical_potentials` each μ_i is the energy per
atom of the element's standard solid (ASE's reference state, cell and atoms
relaxed with `asr.relax`): the element-rich limit. Elements whose standard
state is not a solid (H, N, O, ...) need their μ given.

Charged defects (`charge_states`, GPAW only: its `charge` is the net charge
of the supercell, +1 one electron removed) follow Bertoldo et al., npj
Comput. Mater. 8, 56 (2022):

    E_f(q, E_F) = E_defect(q) - E_pristine - Σ_i n_i μ_i + q (ε_VBM + E_F),

with E_F measured from the pristine supercell's valence band maximum ε_VBM
and running over the gap. Where two charge states have equal formation
energy lies a charge transition level ε(q/q'). At `temperature` the
self-consistent Fermi level is the one where defects, electrons and holes
together carry no charge (`asr.recipes.charge_neutrality`); electrons and
holes come from the pristine supercell's eigenvalues, each defect has as
many sites as its site's symmetry orbit.

A charged supercell also feels its periodic images and GPAW's neutralizing
background: with the host's dielectric constant(s) `epsilon` each charged
energy gets the Freysoldt-Neugebauer-Van de Walle correction
E_corr = E_lat + q ΔV (`asr.recipes.defect_correction`): a Gaussian model
charge screened isotropically for a bulk host, by a dielectric slab (ε_∥,
ε_⊥ inside the layer, 1 in vacuum) for a 2D one, and ΔV aligning the
model's potential with the computed one far from the defect. Without
`epsilon` the charged energies stay uncorrected (recorded as
`correction_model="none"`): off by tenths of an eV in small bulk cells,
and in 2D by an error that grows linearly with the vacuum.

In 2D the corrected energies do not depend on the vacuum: hBN's v_N⁺¹
moves by 0.007 eV from 10 to 25 Å of vacuum, uncorrected by 2.1 eV (the
numbers are in `asr.recipes.defect_correction`); where the layer sits in
its cell does not matter either (GPAW's dipole layer is in the model).
A negative charge state may spill electrons into the vacuum, where the
background attracts them; `vacuum_charges` records how much, and above a
few hundredths of e the correction does not hold (hBN's v_B⁻¹: fine at
10 Å of vacuum, 0.05 e and 0.25 eV off at 15 Å).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key
from asr.core.migration import Migration, MigrationSelector, Selector

from . import charge_neutrality as neutrality
from . import defect_correction
from .common import DEFAULT_GPAW_FORCES, calculator_for, dimensionality
from .setup.defects import main as setup_defects
from .setup.defects import orbit_size


@dataclass
class DefectFormationResult(Result):
    title = "Defect formation energies"
    names: list = field(metadata=key("Name of each defect, e.g. v_S or Mo_S"))
    formation_energies: np.ndarray = field(
        metadata=key("Formation energy of each neutral defect", "eV")
    )
    defect_energies: np.ndarray = field(
        metadata=key("Total energy of each defect supercell", "eV")
    )
    pristine_energy: float = field(
        metadata=key("Total energy of the pristine supercell", "eV")
    )
    chemical_potentials: dict = field(
        metadata=key("Chemical potential of each element", "eV/atom")
    )
    supercell: tuple = field(metadata=key("Repetitions of the input cell"))
    min_formation_energy: float = field(
        metadata=key("Lowest formation energy of the defects", "eV", database=True)
    )
    most_stable_defect: str = field(
        metadata=key("Defect with the lowest formation energy", database=True)
    )
    charge_states: tuple = field(
        default=(0,), metadata=key("Net charge of each computed state", "e")
    )
    charged_energies: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Total energy of each defect supercell in each charge state", "eV"
        ),
    )
    charged_formation_energies: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Formation energy of each defect in each charge state with the "
            "Fermi level at the VBM (add q E_F for another); finite-size "
            "corrections included",
            "eV",
        ),
    )
    correction_model: str = field(
        default="none",
        metadata=key(
            "Finite-size correction of the charged energies: '3D FNV' (isotropic "
            "ε), '2D' (dielectric slab) or 'none'"
        ),
    )
    epsilon: tuple | None = field(
        default=None,
        metadata=key("Dielectric constant(s) of the host: (ε,) or (ε_∥, ε_⊥)"),
    )
    layer_thickness: float | None = field(
        default=None,
        metadata=key("Thickness of the 2D host's dielectric slab", "Å"),
    )
    lattice_energies: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Model lattice energy E_lat = E_iso - E_per of each defect in each "
            "charge state",
            "eV",
        ),
    )
    alignments: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Potential alignment ΔV = V_model - (V_defect - V_pristine) far from "
            "each defect in each charge state",
            "V",
        ),
    )
    corrections: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Finite-size correction E_corr = E_lat + q ΔV added to each charged energy",
            "eV",
        ),
    )
    vacuum_charges: np.ndarray | None = field(
        default=None,
        metadata=key(
            "2D host: charge of each defect in each charge state that the "
            "calculation holds in the vacuum, beyond the model (more than a few "
            "hundredths of e: electrons spilled into the vacuum, the correction "
            "does not hold; use less vacuum)",
            "e",
        ),
    )
    vbm: float | None = field(
        default=None,
        metadata=key(
            "Valence band maximum of the pristine supercell (its Fermi level "
            "if a metal); None for neutral defects only",
            "eV",
        ),
    )
    gap: float | None = field(
        default=None, metadata=key("Band gap of the pristine supercell", "eV")
    )
    transition_levels: list = field(
        default_factory=list,
        metadata=key(
            "Charge transition levels in the gap: [defect, q, q', ε(q/q') "
            "above the VBM in eV], as the Fermi level rises"
        ),
    )
    temperature: float = field(
        default=300.0, metadata=key("Temperature of the charge equilibrium", "K")
    )
    fermi_level: float | None = field(
        default=None,
        metadata=key(
            "Self-consistent Fermi level above the VBM (no net charge); None "
            "for neutral defects only or a metal",
            "eV",
            database=True,
        ),
    )
    concentrations: np.ndarray | None = field(
        default=None,
        metadata=key(
            "Concentration of each defect in each charge state at the "
            "self-consistent Fermi level",
            "1/unit cell",
        ),
    )
    electrons: float | None = field(
        default=None,
        metadata=key(
            "Conduction electrons at the self-consistent Fermi level", "1/unit cell"
        ),
    )
    holes: float | None = field(
        default=None,
        metadata=key("Valence holes at that Fermi level", "1/unit cell"),
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        n = len(self.names)
        fig = Figure(figsize=(max(4, 0.6 * n + 2), 3.5))
        ax = fig.subplots()
        colors = ["C0" if name.startswith("v_") else "C1" for name in self.names]
        ax.bar(range(n), self.formation_energies, color=colors)
        ax.set_xticks(range(n), self.names, rotation=45, ha="right")
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_ylabel("formation energy [eV]")
        ax.set_title("neutral defects (blue: vacancies, orange: antisites)")
        fig.tight_layout()
        path = Path(folder) / "defectformation.png"
        fig.savefig(path)
        paths = [path]
        if self.fermi_level is not None:
            paths.append(self.charged_figure(Path(folder)))
        return paths

    def charged_figure(self, folder: Path) -> Path:
        """E_f of each defect's stable charge state against the Fermi level."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        charges = self.charge_states
        for i, name in enumerate(self.names):
            energies = self.charged_formation_energies[i]
            segments = neutrality.lowest_states(charges, energies, self.gap)
            for j, (start, end, q) in enumerate(segments):
                e0 = energies[charges.index(q)]
                ax.plot(
                    [start, end],
                    [e0 + q * start, e0 + q * end],
                    color=f"C{i % 10}",
                    label=name if j == 0 else None,
                )
                ax.annotate(
                    f"{q:+d}" if q else "0",
                    ((start + end) / 2, e0 + q * (start + end) / 2),
                    color=f"C{i % 10}",
                    fontsize=7,
                    ha="center",
                    va="bottom",
                )
        ax.axvline(
            self.fermi_level, color="k", ls="--", lw=0.8, label="charge-neutral $E_F$"
        )
        ax.set_xlim(0, self.gap)
        ax.set_xlabel("Fermi level above the VBM [eV]")
        ax.set_ylabel("formation energy [eV]")
        corrected = {"none": "no finite-size correction"}.get(
            self.correction_model, f"{self.correction_model} corrected"
        )
        ax.set_title(f"stable charge states, {self.temperature:g} K, {corrected}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / "defectformation-charged.png"
        fig.savefig(path)
        return path

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["defectformation.png"]
        if self.fermi_level is not None:
            panel["figures"].append("defectformation-charged.png")
        return panel


# A 2D host's dielectric slab: its atoms plus about a van der Waals gap (Å).
VDW_GAP = 3.3
MODELS = {1: "3D FNV", 2: "2D"}


def is_gpaw(calculator: dict) -> bool:
    return str(calculator.get("name", "")).lower() == "gpaw"


@instruction("asr.defectformation.energy", version=0)
def energy(atoms: Atoms, calculator: dict) -> float:
    """Total energy of `atoms` with a calculator other than GPAW (eV)."""
    atoms = atoms.copy()
    atoms.calc = calculator_for(atoms, calculator)
    return float(atoms.get_potential_energy())


def total_energy(atoms: Atoms, calculator: dict) -> float:
    """From `asr.gs` for GPAW, else from the calculator itself."""
    if is_gpaw(calculator):
        from .gs import main as groundstate

        return float(groundstate(atoms, calculator).result.energy)
    return float(energy(atoms, calculator).result)


def relaxed(atoms: Atoms, calculator: dict, fmax: float, fix_cell: bool) -> Atoms:
    from .relax import main as relax

    return relax(
        atoms,
        calculator=calculator,
        fmax=fmax,
        fix_cell=fix_cell,
        allow_symmetry_breaking=fix_cell,
    ).result.atoms


def elemental_potential(symbol: str, calculator: dict, fmax: float) -> float:
    """Energy per atom of the relaxed standard solid of `symbol`."""
    from ase.build import bulk

    try:
        solid = bulk(symbol)
    except (ValueError, KeyError, RuntimeError) as err:
        raise ValueError(
            f"{symbol} has no solid reference state in ASE ({err}): give its "
            f"chemical potential, e.g. chemical_potentials={{{symbol!r}: -4.9}}"
        ) from None
    solid = relaxed(solid, calculator, fmax, fix_cell=False)
    return total_energy(solid, calculator) / len(solid)


def composition_change(pristine: Atoms, defect: Atoms) -> Counter:
    """n_i: atoms of each element added (negative: removed)."""
    change = Counter(defect.get_chemical_symbols())
    change.subtract(Counter(pristine.get_chemical_symbols()))
    return change


def host_levels(gpw: str | Path, vbm: float, gap: float) -> neutrality.Levels:
    """Eigenvalues (eV above `vbm`) of a ground state, each with its states."""
    from gpaw import GPAW

    calc = GPAW(gpw, txt=None)
    nspins = calc.get_number_of_spins()
    weights = calc.get_k_point_weights() * (2 / nspins)
    energies, states = [], []
    for s in range(nspins):
        for k, weight in enumerate(weights):
            eps = calc.get_eigenvalues(kpt=k, spin=s)
            energies.append(eps - vbm)
            states.append(np.full(len(eps), weight))
    return neutrality.Levels(np.concatenate(energies), np.concatenate(states), gap)


def charged(calculator: dict, charge: int) -> dict:
    """The calculator of one charge state (the neutral one unchanged)."""
    return {**calculator, "charge": charge} if charge else calculator


def host_epsilon(atoms: Atoms, epsilon) -> tuple[float, ...] | None:
    """`epsilon` as (ε,) for a bulk host or (ε_∥, ε_⊥) for a 2D one."""
    if epsilon is None:
        return None
    values = (epsilon,) if np.ndim(epsilon) == 0 else tuple(epsilon)
    values = tuple(float(e) for e in values)
    wanted = {3: 1, 2: 2}.get(dimensionality(atoms))
    if wanted is None:
        raise ValueError("finite-size corrections need a bulk (3D) or 2D host")
    if len(values) != wanted or min(values) < 1:
        form = "(ε,)" if wanted == 1 else "(ε_in_plane, ε_out_of_plane)"
        raise ValueError(
            f"epsilon of a {dimensionality(atoms)}D host is {form}, each ≥ 1; "
            f"got {epsilon}"
        )
    return values


def layer_slab(host: Atoms, thickness: float | None) -> tuple[float, float]:
    """(thickness, centre) in Å of a 2D host's dielectric slab."""
    z = host.positions[:, 2]
    if thickness is None:
        thickness = float(z.max() - z.min()) + VDW_GAP
    return float(thickness), float((z.max() + z.min()) / 2)


def neutral_defects(record):
    """Version 1 knew neutral defects only: its calls were charge_states=(0,)."""
    result = record.result
    record.arguments = {**record.arguments, "charge_states": (0,), "temperature": 300.0}
    record.result = replace(
        result,
        charged_energies=np.asarray(result.defect_energies)[:, None],
        charged_formation_energies=np.asarray(result.formation_energies)[:, None],
    )
    record.version = 2
    return record


def uncorrected(record):
    """Version 2 had no finite-size correction: its calls were epsilon=None.

    That is what version 3 computes without `epsilon` (marked "none"), so an
    old Record answers such a call; one with `epsilon` needs the potentials
    of the supercells and runs anew (its ground states are cache hits).
    """
    record.arguments = {**record.arguments, "epsilon": None, "thickness": None}
    record.result = replace(record.result, correction_model="none")
    record.version = 3
    return record


MIGRATIONS = [
    MigrationSelector(
        Selector(name="asr.defectformation", version=1),
        Migration(
            "asr.defectformation:1-2", "Neutral charge state only", neutral_defects
        ),
    ),
    MigrationSelector(
        Selector(name="asr.defectformation", version=2),
        Migration("asr.defectformation:2-3", "No finite-size correction", uncorrected),
    ),
]


@instruction(
    "asr.defectformation", version=3, packages=("gpaw",), migrations=MIGRATIONS
)
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    supercell: tuple | None = None,
    vacancies: bool = True,
    antisites: bool = True,
    relax: bool = True,
    fmax: Annotated[float, "eV/Å"] = 0.01,
    chemical_potentials: dict | None = None,
    charge_states: Annotated[tuple[int, ...], "e"] = (0,),
    temperature: Annotated[float, "K"] = 300.0,
    epsilon: tuple | None = None,
    thickness: Annotated[float | None, "Å"] = None,
) -> DefectFormationResult:
    """Formation energies of the vacancies and antisites of `atoms`.

    `supercell` (default: lattice vectors of at least 8 Å) and the kinds of
    defect go to `asr.setup.defects`; with `relax` the positions are relaxed
    to forces below `fmax` (eV/Å). `chemical_potentials` maps element symbols
    to μ in eV/atom; missing elements get their standard solid's energy.
    `charge_states` (units of e, including 0; others need GPAW) are computed
    for every defect, and with more than the neutral one the transition
    levels and the self-consistent Fermi level at `temperature` (K) follow.

    `epsilon` turns on the finite-size correction of the charged states:
    the static dielectric constant ε of a bulk host (a number), or (ε_∥,
    ε_⊥) of a 2D host, in a dielectric slab `thickness` Å thick (default:
    the layer's atoms plus 3.3 Å, about the interlayer distance of a
    van der Waals stack). Take it from `asr.polarizability`'s static α
    (bulk ε = 1 + 4πα; 2D ε_∥ = 1 + 4πα_∥/d, 1/ε_⊥ = 1 - 4πα_⊥/d for a
    slab of thickness d), plus the ionic part (`asr.borncharges` and
    phonons, or `asr.infraredpolarizability`) when the defects are relaxed.
    """
    defects = setup_defects(
        atoms,
        supercell=supercell,
        vacancies=vacancies,
        antisites=antisites,
        charge_states=charge_states,
    ).result
    charges = defects.charge_states
    eps = host_epsilon(atoms, epsilon)
    if charges != (0,) and not is_gpaw(calculator):
        raise ValueError(
            f"charge_states {charges} need a GPAW calculator (its net charge); "
            "other calculators compute neutral defects only"
        )
    pristine = defects.pristine
    potentials = {k: float(v) for k, v in (chemical_potentials or {}).items()}
    elements = sorted(set(atoms.get_chemical_symbols()))
    for symbol in elements:
        if symbol not in potentials:
            potentials[symbol] = elemental_potential(symbol, calculator, fmax)

    def relaxed_structure(structure: Atoms, calc: dict) -> Atoms:
        return relaxed(structure, calc, fmax, fix_cell=True) if relax else structure

    host = relaxed_structure(pristine, calculator)
    e_pristine = total_energy(host, calculator)
    vbm = gap = None
    if charges != (0,):
        from .gs import main as groundstate

        gs = groundstate(host, calculator).result
        if gs.vbm is not None:
            vbm, gap = float(gs.vbm), float(gs.cbm - gs.vbm)
        if vbm is None:  # a metal: the Fermi level is set by its electrons
            vbm = float(gs.efermi)
    energies = np.zeros((len(defects.names), len(charges)))
    formation = np.zeros_like(energies)
    lattice, alignments = np.zeros_like(energies), np.zeros_like(energies)
    spilled = np.zeros_like(energies)
    slab = layer_slab(host, thickness) if eps and len(eps) == 2 else (None, None)
    for i, (structure, site) in enumerate(
        zip(defects.structures, defects.sites, strict=True)
    ):
        change = composition_change(pristine, structure)
        reservoir = sum(n * potentials[symbol] for symbol, n in change.items())
        for j, q in enumerate(charges):
            calc = charged(calculator, q)
            defect = relaxed_structure(structure, calc)
            energies[i, j] = total_energy(defect, calc)
            if q and eps:
                fix = finite_size(host, defect, calc, calculator, site, q, eps, slab)
                lattice[i, j], alignments[i, j] = fix.lattice, fix.alignment
                spilled[i, j] = fix.vacuum_charge or 0.0
            formation[i, j] = energies[i, j] - e_pristine - reservoir + q * (vbm or 0)
    corrections = lattice + np.asarray(charges) * alignments
    formation += corrections
    zero = charges.index(0)
    best = int(np.argmin(formation[:, zero]))
    result = DefectFormationResult(
        names=list(defects.names),
        formation_energies=formation[:, zero].copy(),
        defect_energies=energies[:, zero].copy(),
        pristine_energy=float(e_pristine),
        chemical_potentials={k: potentials[k] for k in sorted(potentials)},
        supercell=tuple(defects.supercell),
        min_formation_energy=float(formation[best, zero]),
        most_stable_defect=defects.names[best],
        charge_states=charges,
        charged_energies=energies,
        charged_formation_energies=formation,
        vbm=vbm,
        gap=gap,
        temperature=float(temperature),
        correction_model="none" if eps is None else MODELS[len(eps)],
        epsilon=eps,
        layer_thickness=slab[0],
        lattice_energies=lattice if eps else None,
        alignments=alignments if eps else None,
        corrections=corrections if eps else None,
        vacuum_charges=spilled if eps and len(eps) == 2 else None,
    )
    if gap is None:
        return result
    return equilibrium(result, defects, atoms, gs.gpw.path)


def finite_size(host, defect, calc, neutral, site, q, eps, slab):
    """The FNV correction of one charged supercell from both ground states."""
    from .gs import main as groundstate

    return defect_correction.correction(
        groundstate(host, neutral).result.gpw.path,
        groundstate(defect, calc).result.gpw.path,
        position=host.positions[int(site)],
        charge=q,
        epsilon=eps,
        thickness=slab[0],
        center=slab[1],
    )


def equilibrium(result, defects, atoms: Atoms, gpw) -> DefectFormationResult:
    """`result` with its transition levels and self-consistent Fermi level."""
    cells = int(np.prod(defects.supercell))
    charged_defects = [
        neutrality.ChargedDefect(
            name,
            result.charge_states,
            tuple(result.charged_formation_energies[i]),
            sites=cells * orbit_size(atoms, int(site) % len(atoms)),
        )
        for i, (name, site) in enumerate(zip(defects.names, defects.sites, strict=True))
    ]
    levels = host_levels(gpw, result.vbm, result.gap)
    state = neutrality.solve(charged_defects, levels, result.temperature)
    return replace(
        result,
        transition_levels=[
            [d.name, q, q2, level]
            for d in charged_defects
            for q, q2, level in neutrality.transition_levels(
                d.charges, d.energies, result.gap
            )
        ],
        fermi_level=state.fermi_level,
        concentrations=np.array(state.concentrations) / cells,
        electrons=state.electrons / cells,
        holes=state.holes / cells,
    )
