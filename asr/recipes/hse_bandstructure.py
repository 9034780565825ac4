"""HSE06 band structure: the HSE06 correction interpolated onto the PBE band path.

A hybrid functional along a band path of hundreds of k-points costs far too
much, so, as the C2DB does, the correction Δ_n(k) = ε_n^HSE(k) - ε_n^PBE(k)
of each band is taken on the k-point grid of `asr.hse` and interpolated
(ASE's `ase.dft.kpoints.monkhorst_pack_interpolate`, linear over the grid
unfolded to the whole Brillouin zone) onto the path of `asr.bandstructure`,
where it is added to the PBE bands. The correction varies slowly with k;
the bands themselves do not, which is why it is the correction that is
interpolated. Bands are matched by index, so the result is only as good as
the grid of `asr.hse` and is least trustworthy where bands cross. Energies
are relative to the reference of `asr.bandstructure` (the vacuum level of a
2D material, else the Fermi level).

Spin-orbit coupling is added to the corrected bands as the C2DB shows them:
on the band-path calculation of `asr.bandstructure`, with the corrected
energies in place of the PBE ones and the spins along the material's axis
(`asr.recipes.spinors`, as `asr.gw` finds its SOC gap), so the bands with
SOC are spinors, twice as many, coloured in the figure by their spin
projection as `asr.bandstructure` colours its own. SOC mixes only the
corrected bands: a window that cuts through a degenerate state (e.g. a
G0W0 window holding two of the three top valence bands of silicon at Γ)
splits it wrongly, and a warning says which argument widens the window.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from ase import Atoms

from asr.core import Result, instruction, key

from .bandstructure import label_for, shifted
from .common import DEFAULT_GPAW
from .gs import band_edges
from .hse import HSE_KPTS
from .spinaxis import spin_axis
from .spinors import cut_levels, spinor_bands


@dataclass
class QPBandStructureResult(Result):
    """Corrected (e.g. HSE06) bands along the band path of asr.bandstructure,
    without and with spin-orbit coupling."""

    title = "Quasiparticle band structure"
    method: str = field(metadata=key("Method of the corrections, e.g. HSE06"))
    path: dict = field(metadata=key("Band path, as in asr.bandstructure"))
    reference_name: str = field(
        metadata=key("What energies are relative to: 'vacuum level' or 'Fermi level'")
    )
    bands: list = field(metadata=key("Band indices n1, n2 (n1 <= n < n2) shown"))
    energies: np.ndarray = field(
        metadata=key("Corrected band energies (spins, path k-points, bands)", "eV")
    )
    energies_dft: np.ndarray = field(
        metadata=key("PBE band energies of the same bands (spins, k, bands)", "eV")
    )
    efermi: float = field(
        metadata=key("Fermi level of the corrected bands (mid-gap)", "eV")
    )
    gap: float = field(metadata=key("Band gap along the path", "eV"))
    vbm: float | None = field(
        metadata=key("Valence band maximum along the path (None: a metal)", "eV")
    )
    cbm: float | None = field(
        metadata=key("Conduction band minimum along the path (None: a metal)", "eV")
    )
    energies_soc: np.ndarray = field(
        metadata=key(
            "Corrected band energies with spin-orbit coupling (path k-points, "
            "spinor bands: twice the bands)",
            "eV",
        )
    )
    spin_soc: np.ndarray = field(
        metadata=key(
            "Spin projection of each state with spin-orbit coupling on the spin "
            "axis (as in asr.bandstructure)"
        )
    )
    efermi_soc: float = field(
        metadata=key("Fermi level with spin-orbit coupling (mid-gap)", "eV")
    )
    gap_soc: float = field(
        metadata=key("Band gap along the path with spin-orbit coupling", "eV")
    )
    vbm_soc: float | None = field(
        metadata=key("Valence band maximum with spin-orbit coupling", "eV")
    )
    cbm_soc: float | None = field(
        metadata=key("Conduction band minimum with spin-orbit coupling", "eV")
    )

    def figures(self, folder: Path) -> list[Path]:
        from ase.dft.kpoints import BandPath
        from matplotlib.figure import Figure

        path = BandPath(**self.path)
        x, xticks, labels = path.get_linear_kpoint_axis()
        fig = Figure(figsize=(6.4, 4.8))
        ax = fig.subplots()
        for s, (dft, qp) in enumerate(zip(self.energies_dft, self.energies)):
            pbe = ax.plot(x, dft, color="0.65", lw=0.8)
            qp_lines = ax.plot(x, qp, color="C0", ls="--", lw=0.8)
            if s == 0:  # one legend entry each
                pbe[0].set_label("PBE")
                qp_lines[0].set_label(f"{self.method} without SOC")
        # With SOC: coloured by spin projection, as asr.bandstructure draws them.
        points = ax.scatter(
            np.repeat(x, self.energies_soc.shape[1]),
            self.energies_soc.ravel(),
            c=self.spin_soc.ravel(),
            cmap="coolwarm",
            vmin=-1.0,
            vmax=1.0,
            s=4,
            label=self.method,
            zorder=2,
        )
        label = r"$\langle s \rangle$ on the spin axis"
        fig.colorbar(points, ax=ax, label=label)
        ax.legend(loc="upper right")
        ax.axhline(self.efermi_soc, color="k", ls=":", lw=0.8)
        low = self.vbm_soc if self.vbm_soc is not None else self.efermi_soc
        high = self.cbm_soc if self.cbm_soc is not None else self.efermi_soc
        ax.set_ylim(low - 3, high + 3)
        ax.set_xlim(x[0], x[-1])
        ax.set_xticks(xticks, [name.replace("G", "Γ") for name in labels])
        for tick in xticks:
            ax.axvline(tick, color="0.8", lw=0.6, zorder=0)
        ax.set_ylabel(label_for(self.reference_name))
        ax.set_title(
            f"{self.method} band structure, gap {self.gap_soc:.2f} eV "
            f"({self.gap:.2f} eV without SOC)"
        )
        fig.tight_layout()
        filename = Path(folder) / f"{self.method.lower()}-bandstructure.png"
        fig.savefig(filename)
        return [filename]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = [f"{self.method.lower()}-bandstructure.png"]
        return panel


def interpolate_onto_path(
    gpw: Path, values: np.ndarray, path_kpts: np.ndarray
) -> np.ndarray:
    """`values` (spins, IBZ k-points of `gpw`, bands) at `path_kpts` (scaled).

    The grid of `gpw` must be a Monkhorst-Pack grid (GPAW's default).
    """
    from ase.dft.kpoints import (
        get_monkhorst_pack_size_and_offset,
        monkhorst_pack_interpolate,
    )
    from gpaw import GPAW

    calc = GPAW(str(gpw), txt=None)
    size, offset = get_monkhorst_pack_size_and_offset(calc.get_bz_k_points())
    icell = calc.atoms.cell.reciprocal()
    bz2ibz = calc.get_bz_to_ibz_map()
    moved = np.moveaxis(values, 1, 0)  # (IBZ k, spins, bands)
    interpolated = monkhorst_pack_interpolate(
        path_kpts, moved, icell, bz2ibz, size, offset
    )
    return np.moveaxis(np.asarray(interpolated), 0, 1)


def corrected_bands(
    method: str,
    atoms: Atoms,
    calculator: dict,
    gpw: Path,
    corrections: np.ndarray,
    n1: int,
    efermi: float,
    npoints: int,
    path: str | None,
) -> QPBandStructureResult:
    """The PBE bands n1, n1 + 1, ... of `asr.bandstructure` plus `corrections`,
    without and with spin-orbit coupling (spins along the material's axis).

    `corrections` (spins, IBZ k-points of `gpw`, bands) start at band `n1`;
    `efermi` is the Fermi level of the corrected bands on GPAW's scale.
    """
    from gpaw import GPAW

    from .bandstructure import main as bandstructure

    bs = bandstructure(atoms, calculator, npoints=npoints, path=path).result
    n2 = min(n1 + corrections.shape[2], bs.energies.shape[2])
    corrections = corrections[:, :, : n2 - n1]
    kpts = bs.path["kpts"]
    dft = bs.energies[:, :, n1:n2]
    qp = dft + interpolate_onto_path(gpw, corrections, kpts)
    efermi = float(efermi - bs.reference)
    edges = band_edges(qp, efermi, kpts)
    if edges.vbm is not None:
        efermi = (edges.vbm + edges.cbm) / 2
    # The range the figure shows: 3 eV beyond the band edges.
    shown = (
        (edges.vbm if edges.vbm is not None else efermi) - 3,
        (edges.cbm if edges.cbm is not None else efermi) + 3,
    )
    for cut in cut_levels(bs.energies, n1, n2, shown):
        warnings.warn(
            f"{method} bands with spin-orbit coupling: {cut}, so its split is "
            "wrong; widen the window (asr.gw: valence_bands and "
            "conduction_bands, asr.hse: empty_bands)",
            stacklevel=2,
        )
    # SOC on the band-path calculation of asr.bandstructure (no symmetry:
    # its k-points are the path's), with the corrected energies on GPAW's
    # scale in place of the PBE ones.
    soc = spinor_bands(
        GPAW(bs.gpw.path, txt=None),
        n1,
        n2,
        qp + bs.reference,
        qp < efermi,
        spin_axis(atoms, calculator),
    )
    return QPBandStructureResult(
        method=method,
        path=bs.path,
        reference_name=bs.reference_name,
        bands=[n1, n2],
        energies=qp,
        energies_dft=dft,
        efermi=efermi,
        gap=edges.gap,
        vbm=edges.vbm,
        cbm=edges.cbm,
        energies_soc=soc.energies - bs.reference,
        spin_soc=soc.spin,
        efermi_soc=float(soc.efermi - bs.reference),
        gap_soc=soc.edges.gap,
        vbm_soc=shifted(soc.edges.vbm, bs.reference),
        cbm_soc=shifted(soc.edges.cbm, bs.reference),
    )


@instruction("asr.hse_bandstructure", version=1, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = HSE_KPTS,
    empty_bands: int = 8,
    npoints: Annotated[int, "k-points"] = 400,
    path: str | None = None,
) -> QPBandStructureResult:
    """HSE06 bands along `path` (None: ASE's path for the cell).

    `kpts` and `empty_bands` are those of `asr.hse`; `npoints` and `path`
    those of `asr.bandstructure`.
    """
    from .hse import main as hse
    from .wavefunctions import main as wavefunctions

    result = hse(atoms, calculator, kpts=kpts, empty_bands=empty_bands).result
    wfs = wavefunctions(atoms, calculator, kpts=kpts, nbands=-empty_bands).result
    return corrected_bands(
        "HSE06",
        atoms,
        calculator,
        wfs.gpw.path,
        result.eigenvalues_hse - result.eigenvalues_pbe,
        0,
        result.efermi_hse,
        npoints,
        path,
    )
