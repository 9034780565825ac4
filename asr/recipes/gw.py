"""G0W0 quasiparticle band gap and band edges (GPAW's `gpaw.response.g0w0`).

The quasiparticle energies of the highest valence and lowest conduction bands
come from a one-shot G0W0 calculation on PBE wave functions with the full
plane-wave Hamiltonian diagonalised (`asr.wavefunctions` with
``diagonalize=True``) on a Γ-centred k-point grid. The number of bands in the
screening follows the plane-wave cutoff `ecut` (as many bands as plane
waves), and with `ecut_extrapolation` the self-energy is extrapolated to an
infinite cutoff from three cutoffs up to `ecut`. 2D materials (vacuum along
z) use the truncated Coulomb interaction with the analytic q → 0 correction,
1D and 0D ones a truncated interaction too. Spin-orbit coupling is added to
the quasiparticle energies afterwards (`asr.recipes.spinors`).
As in the C2DB, the quasiparticle energies use an empirical renormalisation
factor Z = `empirical_z` (0.75) for every state, ε + Z (Σ + Σ_x − v_xc),
instead of GPAW's Z from the slope of Σ (ill-behaved for many 2D materials);
the energies and gap with GPAW's own Z are kept as well (`_z` keys).
Output files of GPAW (``gw-<hash>*``) stay in the working folder, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr, Ha

from asr.core import Result, instruction, key

from .common import DEFAULT_GPAW, dimensionality
from .gs import band_edges
from .hse import fermi_level_between
from .spinaxis import spin_axis
from .spinors import spinor_bands
from .wavefunctions import main as wavefunctions

GW_KPTS = {"density": 5.0, "gamma": True}
# The C2DB's renormalisation factor for all states.
EMPIRICAL_Z = 0.75
TRUNCATION = {3: None, 2: "2D", 1: "1D", 0: "0D"}


@dataclass
class GWResult(Result):
    title = "G0W0 band gap"
    gap_gw: float = field(
        metadata=key("G0W0 band gap without spin-orbit coupling", "eV", database=True)
    )
    gap_dir_gw: float = field(
        metadata=key("G0W0 direct band gap without spin-orbit coupling", "eV")
    )
    vbm_gw: float | None = field(
        metadata=key("G0W0 valence band maximum", "eV", database=True)
    )
    cbm_gw: float | None = field(
        metadata=key("G0W0 conduction band minimum", "eV", database=True)
    )
    k_vbm_gw: np.ndarray | None = field(
        metadata=key("k-point of the G0W0 VBM (scaled, IBZ)")
    )
    k_cbm_gw: np.ndarray | None = field(
        metadata=key("k-point of the G0W0 CBM (scaled, IBZ)")
    )
    gap_gw_soc: float = field(
        metadata=key("G0W0 band gap with spin-orbit coupling", "eV", database=True)
    )
    vbm_gw_soc: float | None = field(
        metadata=key("G0W0 valence band maximum with spin-orbit coupling", "eV")
    )
    cbm_gw_soc: float | None = field(
        metadata=key("G0W0 conduction band minimum with spin-orbit coupling", "eV")
    )
    gap_dft: float = field(
        metadata=key("PBE band gap of the same bands and k-points", "eV")
    )
    bands: list = field(metadata=key("Band indices n1, n2 (n1 <= n < n2) corrected"))
    nvalence: int = field(
        metadata=key("How many of the corrected bands are valence bands")
    )
    kpts: np.ndarray = field(metadata=key("Irreducible k-points (scaled)"))
    eigenvalues_dft: np.ndarray = field(
        metadata=key("Kohn-Sham eigenvalues (spin, IBZ k-point, band)", "eV")
    )
    eigenvalues_gw: np.ndarray = field(
        metadata=key("Quasiparticle energies (spin, IBZ k-point, band)", "eV")
    )
    sigma: np.ndarray = field(
        metadata=key("Correlation self-energy (spin, IBZ k-point, band)", "eV")
    )
    exx: np.ndarray = field(
        metadata=key("Exact-exchange contribution (spin, IBZ k-point, band)", "eV")
    )
    vxc: np.ndarray = field(
        metadata=key("PBE exchange-correlation potential (spin, k, band)", "eV")
    )
    z: np.ndarray = field(
        metadata=key("Quasiparticle renormalisation factors (spin, k, band)")
    )
    nbands_screening: int = field(
        metadata=key("Number of bands in the screened interaction")
    )
    empirical_z: float | None = field(
        metadata=key("Renormalisation factor Z of every state (None: GPAW's Z)")
    )
    eigenvalues_gw_z: np.ndarray = field(
        metadata=key(
            "Quasiparticle energies with GPAW's Z (spin, IBZ k-point, band)", "eV"
        )
    )
    gap_gw_z: float = field(
        metadata=key("G0W0 band gap with GPAW's Z, without spin-orbit coupling", "eV")
    )

    def figures(self, folder: Path) -> list[Path]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        nv = self.nvalence
        for part, color, label in (
            (slice(0, nv), "C0", "valence"),
            (slice(nv, None), "C3", "conduction"),
        ):
            dft = self.eigenvalues_dft[:, :, part]
            ax.plot(
                dft.ravel(),
                (self.eigenvalues_gw[:, :, part] - dft).ravel(),
                "o",
                color=color,
                label=label,
            )
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("PBE energy [eV]")
        ax.set_ylabel("G0W0 correction [eV]")
        ax.set_title(f"G0W0 gap {self.gap_gw:.2f} eV (PBE {self.gap_dft:.2f} eV)")
        ax.legend()
        fig.tight_layout()
        path = Path(folder) / "gw-corrections.png"
        fig.savefig(path)
        return [path]

    def webpanel(self) -> dict[str, Any]:
        panel = super().webpanel()
        panel["figures"] = ["gw-corrections.png"]
        return panel


def screening_bands(atoms: Atoms, ecut: float) -> int:
    """As many bands as plane waves below `ecut` (eV): GPAW's G0W0 default."""
    volume = abs(atoms.cell.volume) / Bohr**3
    return int(volume * (ecut / Ha) ** 1.5 * 2**0.5 / 3 / np.pi**2)


def quasiparticle_energies(results: dict, z: float | np.ndarray) -> np.ndarray:
    """ε + Z (Σ + Σ_x − v_xc) from GPAW's G0W0 results (eV) with factor `z`."""
    return results["eps"] + z * (results["sigma"] + results["exx"] - results["vxc"])


@instruction("asr.gw", version=2, packages=("gpaw",))
def main(
    atoms: Atoms,
    calculator: dict = DEFAULT_GPAW,
    kpts: dict = GW_KPTS,
    ecut: float = 200.0,
    ecut_extrapolation: bool = True,
    ppa: bool = False,
    valence_bands: int = 4,
    conduction_bands: int = 4,
    empirical_z: float | None = EMPIRICAL_Z,
) -> GWResult:
    """G0W0 energies of `valence_bands` and `conduction_bands` around the gap.

    `ecut` (eV) is the plane-wave cutoff of the response function; `ppa`
    uses the Godby-Needs plasmon-pole model instead of a frequency grid;
    `empirical_z` is the renormalisation factor of every state (None: GPAW's
    computed ones).
    """
    from gpaw import GPAW
    from gpaw.response.g0w0 import G0W0

    dim = dimensionality(atoms)
    nbands = screening_bands(atoms, ecut)
    wfs = wavefunctions(
        atoms, calculator, kpts=kpts, nbands=nbands, diagonalize=True
    ).result
    calc = GPAW(wfs.gpw.path, txt=None)
    nocc = wfs.nocc
    if valence_bands < 1 or conduction_bands < 1:
        raise ValueError("valence_bands and conduction_bands must be at least 1")
    n1 = max(0, nocc - valence_bands)
    n2 = nocc + conduction_bands
    options: dict[str, Any] = {}
    if dim < 3:
        options["truncation"] = TRUNCATION[dim]
    if dim == 2:
        options["q0_correction"] = True
    # GPAW's files (and its cache of finished q-points) belong to this call.
    arguments = {
        "atoms": atoms,
        "calculator": calculator,
        "kpts": kpts,
        "ecut": ecut,
        "ecut_extrapolation": ecut_extrapolation,
        "ppa": ppa,
        "valence_bands": valence_bands,
        "conduction_bands": conduction_bands,
    }
    prefix = f"gw-{main.terms(arguments).exact.hex()[:16]}"
    gw = G0W0(
        str(wfs.gpw.path),
        filename=prefix,
        ecut=ecut,
        ecut_extrapolation=ecut_extrapolation,
        ppa=ppa,
        bands=(n1, n2),
        nbands=None if ecut_extrapolation else nbands,
        **options,
    )
    results = {k: np.asarray(v) for k, v in gw.calculate().items()}
    qp_z = results["qp"]
    qp = qp_z if empirical_z is None else quasiparticle_energies(results, empirical_z)
    eps = results["eps"]
    ibzk = np.asarray(calc.get_ibz_k_points())
    occupied = eps < wfs.efermi
    edges = band_edges(qp, fermi_level_between(qp, occupied), ibzk)
    edges_z = band_edges(qp_z, fermi_level_between(qp_z, occupied), ibzk)
    dft = band_edges(eps, fermi_level_between(eps, occupied), ibzk)
    axis = spin_axis(atoms, calculator)
    soc_edges = spinor_bands(calc, n1, n2, qp, occupied, axis).edges
    return GWResult(
        gap_gw=edges.gap,
        gap_dir_gw=edges.gap_dir,
        vbm_gw=edges.vbm,
        cbm_gw=edges.cbm,
        k_vbm_gw=edges.k_vbm,
        k_cbm_gw=edges.k_cbm,
        gap_gw_soc=soc_edges.gap,
        vbm_gw_soc=soc_edges.vbm,
        cbm_gw_soc=soc_edges.cbm,
        gap_dft=dft.gap,
        bands=[n1, n2],
        nvalence=nocc - n1,
        kpts=ibzk,
        eigenvalues_dft=eps,
        eigenvalues_gw=qp,
        sigma=results["sigma"],
        exx=results["exx"],
        vxc=results["vxc"],
        z=results["Z"],
        nbands_screening=int(nbands),
        empirical_z=None if empirical_z is None else float(empirical_z),
        eigenvalues_gw_z=qp_z,
        gap_gw_z=edges_z.gap,
    )
