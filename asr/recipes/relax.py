"""Relax atomic positions and unit cell with any calculator giving forces and stress.

Only the periodic directions of the cell relax: a 2D material keeps its
vacuum (the z cell vector is fixed, only the in-plane components change), a
1D wire only changes its length along its axis, a molecule only its
positions. The symmetry of the input is kept unless told otherwise
(`ase.constraints.FixSymmetry`). A 2D GPAW calculation gets the dipole
correction along z of `asr.gs` (`common.gpaw_spec_for`), so a polar layer
relaxes with the Hamiltonian of its ground state. A GPAW relaxation of a
structure without initial magnetic moments starts ferromagnetic, as `asr.gs`
does (`asr.recipes.magnetism`). GPAW computes stress only with plane
waves: a cell relaxation with an LCAO (or FD) calculator is refused with a
`ValueError` rather than quietly keeping the cell fixed (a "relaxed"
structure whose cell never moved); pass ``fix_cell=True`` to relax only the
positions in those modes.

Every step is written to a trajectory file in the working folder, named by a
hash of the arguments (``relax-<hash>.traj``). A run that is killed (or
stops at `max_steps`) continues from the last image of that file when called
again with the same arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError

from asr.core import File, Result, instruction, key

from .common import DEFAULT_GPAW_FORCES, calculator_for, gpaw_spec_for
from .gs import mode_name
from .magnetism import MAGMOM_THRESHOLD, moments_vanished, starting_moments


class RelaxNotConvergedError(RuntimeError):
    """The relaxation did not reach the tolerances within `max_steps`."""


@dataclass
class RelaxResult(Result):
    title = "Relaxation"
    atoms: Atoms = field(metadata=key("Relaxed structure"))
    energy: float = field(
        metadata=key("Energy of the relaxed structure", "eV", database=True)
    )
    forces: np.ndarray = field(metadata=key("Forces on the relaxed atoms", "eV/Å"))
    stress: np.ndarray | None = field(
        metadata=key(
            "Stress of the relaxed cell, Voigt order (None: not periodic, or not "
            "given by the calculator)",
            "eV/Å³",
        )
    )
    fmax: float = field(metadata=key("Largest remaining force", "eV/Å"))
    smax: float = field(
        metadata=key("Largest remaining stress of the relaxed directions", "eV/Å³")
    )
    nsteps: int = field(
        metadata=key("Optimizer steps in total, over all restarts", database=True)
    )
    resumed_steps: int = field(
        metadata=key("Steps already in the trajectory when this run started")
    )
    energies: np.ndarray = field(metadata=key("Energy of every image", "eV"))
    max_forces: np.ndarray = field(metadata=key("Largest force of every image", "eV/Å"))
    a: float = field(metadata=key("Cell length a", "Å", database=True))
    b: float = field(metadata=key("Cell length b", "Å", database=True))
    c: float = field(metadata=key("Cell length c", "Å", database=True))
    alpha: float = field(metadata=key("Cell angle α", "°", database=True))
    beta: float = field(metadata=key("Cell angle β", "°", database=True))
    gamma: float = field(metadata=key("Cell angle γ", "°", database=True))
    magstate: str | None = field(
        metadata=key(
            "Magnetic state: nm, fm or afm (None: the calculator gives no moments)",
            database=True,
        )
    )
    magmom: float | None = field(metadata=key("Total magnetic moment", "μB"))
    magmoms: np.ndarray | None = field(metadata=key("Local magnetic moments", "μB"))
    note: str = field(metadata=key("What the user should know about this run"))
    trajectory: File = field(metadata=key("Trajectory of the relaxation (ASE .traj)"))

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        top, bottom = fig.subplots(2, 1, sharex=True)
        steps = np.arange(len(self.energies))
        top.plot(steps, self.energies - self.energies[-1], "o-")
        top.set_ylabel("E - E(relaxed) [eV]")
        bottom.semilogy(steps, np.maximum(self.max_forces, 1e-6), "o-")
        bottom.set_ylabel("max force [eV/Å]")
        bottom.set_xlabel("step")
        fig.tight_layout()
        path = Path(folder) / "relax.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict:
        panel = super().webpanel()
        panel["figures"] = ["relax.png"]
        return panel


def cell_mask(atoms: Atoms) -> np.ndarray:
    """Which strain components may relax: those between periodic directions."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    return np.outer(pbc, pbc)


def read_images(path: Path) -> list[Atoms]:
    """The images of a trajectory; those after a damaged one are dropped."""
    from ase.io import Trajectory

    if not path.is_file() or path.stat().st_size == 0:
        return []
    images = []
    try:
        with Trajectory(str(path)) as trajectory:
            for i in range(len(trajectory)):
                images.append(trajectory[i])
    except Exception:  # a file cut short: keep what could be read
        pass
    return images


def largest_force(forces: np.ndarray) -> float:
    return float(np.sqrt((np.asarray(forces) ** 2).sum(axis=1)).max(initial=0.0))


def largest_stress(atoms: Atoms, mask: np.ndarray | None) -> float:
    if mask is None or not mask.any():
        return 0.0
    stress = atoms.get_stress(voigt=False)
    return float(np.abs(stress[mask]).max())


def has_stress(spec: dict) -> bool:
    """False for GPAW in LCAO or FD mode: GPAW has stress with plane waves only."""
    return str(spec.get("name", "")).lower() != "gpaw" or mode_name(spec) == "pw"


def stress_or_none(atoms: Atoms, spec: dict) -> np.ndarray | None:
    if not atoms.pbc.any() or not has_stress(spec):
        return None
    try:
        return np.asarray(atoms.get_stress())
    except PropertyNotImplementedError:
        return None


def magnetic_moments(atoms: Atoms) -> tuple[float | None, np.ndarray | None]:
    """Total and local moments from the calculator, if it gives them."""
    calc = atoms.calc
    try:
        magmom = calc.get_property("magmom", atoms, allow_calculation=False)
        magmoms = calc.get_property("magmoms", atoms, allow_calculation=False)
    except (PropertyNotImplementedError, KeyError, AttributeError):
        return None, None
    if magmom is None and magmoms is None:
        return None, None
    if magmoms is not None:
        magmoms = np.asarray(magmoms, dtype=float)
    if magmom is None:
        magmom = float(magmoms.sum())
    return float(magmom), magmoms


def magnetic_state(magmom: float | None, magmoms: np.ndarray | None) -> str | None:
    """nm, fm or afm from the total and local moments (None: unknown)."""
    if magmom is None:
        return None
    local = 0.0 if magmoms is None else float(np.abs(magmoms).max(initial=0.0))
    if abs(magmom) >= MAGMOM_THRESHOLD:
        return "fm"
    if local >= MAGMOM_THRESHOLD:
        return "afm"
    return "nm"


def moments_dropped(atoms: Atoms, spec: dict) -> bool:
    """Give a spin-polarized `atoms` whose moments vanished a spin-paired calculator.

    False (and nothing changed) unless `atoms` is spin-polarized and its
    moments are below `MAGMOM_THRESHOLD` in total and on every atom.
    """
    if not atoms.get_initial_magnetic_moments().any():
        return False
    magmom, magmoms = magnetic_moments(atoms)
    if magmom is None or not moments_vanished(magmom, magmoms):
        return False
    atoms.set_initial_magnetic_moments(None)
    atoms.calc = calculator_for(atoms, spec)
    return True


def trajectory_name(
    atoms, calculator, fmax, smax, fix_cell, allow_symmetry_breaking, magnetic
) -> str:
    """``relax-<hash>.traj``: the same for every call that should continue it."""
    terms = main.terms(
        {
            "atoms": atoms,
            "calculator": calculator,
            "fmax": fmax,
            "smax": smax,
            "fix_cell": fix_cell,
            "allow_symmetry_breaking": allow_symmetry_breaking,
            "magnetic": magnetic,
        }
    )
    return f"relax-{terms.exact.hex()[:16]}.traj"


def optimizer_class(name: str):
    import ase.optimize

    cls = getattr(ase.optimize, name, None)
    if cls is None:
        raise ValueError(f"ase.optimize has no optimizer {name!r} (try 'BFGS')")
    return cls


@instruction("asr.relax", version=1)
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW_FORCES,
    fmax: Annotated[float, "eV/Å"] = 0.01,
    smax: Annotated[float, "eV/Å³"] = 0.0005,
    fix_cell: bool = False,
    allow_symmetry_breaking: bool = False,
    optimizer: str = "BFGS",
    max_steps: int = 1000,
    magnetic: bool | None = None,
) -> RelaxResult:
    """Relax positions and (the periodic part of) the cell.

    Converged when every force is below `fmax` (eV/Å) and every stress
    component of the relaxed cell directions below `smax` (eV/Å³).
    `max_steps` counts all steps, also those of earlier, interrupted runs.
    `magnetic`: None starts a GPAW relaxation of a structure without initial
    moments ferromagnetic (`asr.recipes.magnetism`; the moments are dropped
    from the relaxed structure when they vanish), False relaxes spin-paired.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.io import Trajectory

    path = Path(
        trajectory_name(
            atoms,
            calculator,
            fmax,
            smax,
            fix_cell,
            allow_symmetry_breaking,
            magnetic,
        )
    )
    # k-points (from a density) follow the input cell, also when resuming.
    spec = gpaw_spec_for(atoms, calculator)
    if not fix_cell and cell_mask(atoms).any() and not has_stress(spec):
        raise ValueError(
            f"GPAW has no stress in {mode_name(spec)} mode, so it cannot relax "
            "the cell: use a plane-wave calculator, or fix_cell=True"
        )
    calc = calculator_for(atoms, spec)
    user_constraints = list(atoms.constraints)
    initial_magmoms = atoms.get_initial_magnetic_moments()
    atoms = atoms.copy()
    atoms.set_initial_magnetic_moments(starting_moments(atoms, magnetic, calculator))
    images = read_images(path)
    resumed = max(len(images) - 1, 0)
    if images:
        last = images[-1]
        if list(last.numbers) != list(atoms.numbers):
            raise ValueError(f"{path} holds other atoms: move it away and rerun")
        atoms.set_cell(last.cell, scale_atoms=False)
        atoms.set_positions(last.positions, apply_constraint=False)
    atoms.calc = calc
    if not allow_symmetry_breaking:
        atoms.set_constraint([*user_constraints, FixSymmetry(atoms)])

    mask = None if fix_cell else cell_mask(atoms)
    relaxing_cell = mask is not None and mask.any()
    optimizable = FrechetCellFilter(atoms, mask=mask) if relaxing_cell else atoms
    opt = optimizer_class(optimizer)(optimizable, logfile=str(path.with_suffix(".log")))
    energies = [image.get_potential_energy() for image in images[:-1]]
    max_forces = [largest_force(image.get_forces()) for image in images[:-1]]
    converged = False
    with Trajectory(str(path), "a", atoms) as trajectory:
        for i, _ in enumerate(opt.irun(fmax=0.0, steps=max(max_steps - resumed, 0))):
            if i > 0 or not images:  # the last image is in the file already
                trajectory.write()
            energies.append(atoms.get_potential_energy())
            max_forces.append(largest_force(atoms.get_forces()))
            converged = max_forces[-1] < fmax and largest_stress(atoms, mask) < smax
            if converged and magnetic is None and moments_dropped(atoms, spec):
                # The spin-paired image: what asr.gs computes for this structure.
                energies.append(atoms.get_potential_energy())
                max_forces.append(largest_force(atoms.get_forces()))
                trajectory.write()
                converged = max_forces[-1] < fmax and largest_stress(atoms, mask) < smax
            if converged:
                break
    nsteps = len(energies) - 1
    if not converged:
        raise RelaxNotConvergedError(
            f"not relaxed after {nsteps} steps (max force {max_forces[-1]:.4f} "
            f"eV/Å); call again with a larger max_steps to continue from {path}"
        )

    magmom, magmoms = magnetic_moments(atoms)
    magstate = magnetic_state(magmom, magmoms)
    note = ""
    relaxed = atoms.copy()
    relaxed.set_constraint(user_constraints)
    if magstate == "nm":
        given = np.abs(initial_magmoms).max(initial=0.0) >= MAGMOM_THRESHOLD
        if given and magnetic is not False:
            note = (
                "The initial magnetic moments vanished: the relaxed structure is "
                "non-magnetic (nm) and its initial moments were set to zero."
            )
        # Zero moments tell asr.gs and the rest that the spins were looked at
        # (or ruled out) here: they compute spin-paired without probing again.
        relaxed.set_initial_magnetic_moments(np.zeros(len(relaxed)))
    elif magmoms is not None:
        relaxed.set_initial_magnetic_moments(magmoms)
    cellpar = relaxed.cell.cellpar()
    return RelaxResult(
        atoms=relaxed,
        energy=float(atoms.get_potential_energy()),
        forces=np.asarray(atoms.get_forces()),
        stress=stress_or_none(atoms, spec),
        fmax=max_forces[-1],
        smax=largest_stress(atoms, mask),
        nsteps=nsteps,
        resumed_steps=resumed,
        energies=np.asarray(energies),
        max_forces=np.asarray(max_forces),
        a=float(cellpar[0]),
        b=float(cellpar[1]),
        c=float(cellpar[2]),
        alpha=float(cellpar[3]),
        beta=float(cellpar[4]),
        gamma=float(cellpar[5]),
        magstate=magstate,
        magmom=magmom,
        magmoms=magmoms,
        note=note,
        trajectory=File(path),
    )
