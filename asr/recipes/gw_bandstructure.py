"""G0W0 band structure: the G0W0 correction interpolated onto the PBE band path.

As for `asr.hse_bandstructure`, and as the C2DB shows G0W0 bands: the
correction Δ_n(k) = ε_n^G0W0(k) - ε_n^PBE(k) of the bands `asr.gw`
corrects (a few around the gap, with its empirical Z = 0.75 by default) is
taken on the k-point grid of `asr.gw` and interpolated onto the path of
`asr.bandstructure`, where it is added to the PBE bands. G0W0 on the path
itself would cost a response calculation per k-point; the correction varies
slowly with k, the bands do not. Only as good as the grid of `asr.gw`
(coarse: its k-point density is 5 Å⁻¹ by default) and least trustworthy
where bands cross. Energies are relative to the reference of
`asr.bandstructure`. Spin-orbit coupling is added to the corrected bands as
in `asr.hse_bandstructure`, among the bands `asr.gw` corrects only: let
`valence_bands` hold every band of a degenerate valence band maximum.
"""

from __future__ import annotations

from typing import Annotated

from ase import Atoms

from asr.core import instruction

from .common import DEFAULT_GPAW
from .gw import EMPIRICAL_Z, GW_KPTS
from .hse_bandstructure import QPBandStructureResult, corrected_bands


@instruction("asr.gw_bandstructure", version=1, packages=("gpaw",))
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
    npoints: Annotated[int, "k-points"] = 400,
    path: str | None = None,
) -> QPBandStructureResult:
    """G0W0 bands along `path` (None: ASE's path for the cell).

    All but `npoints` and `path` (those of `asr.bandstructure`) are the
    arguments of `asr.gw`.
    """
    from .gw import main as gw
    from .gw import screening_bands
    from .hse import fermi_level_between
    from .wavefunctions import main as wavefunctions

    result = gw(
        atoms,
        calculator,
        kpts=kpts,
        ecut=ecut,
        ecut_extrapolation=ecut_extrapolation,
        ppa=ppa,
        valence_bands=valence_bands,
        conduction_bands=conduction_bands,
        empirical_z=empirical_z,
    ).result
    # The ground state asr.gw ran on: its grid is the grid of the corrections.
    wfs = wavefunctions(
        atoms,
        calculator,
        kpts=kpts,
        nbands=screening_bands(atoms, ecut),
        diagonalize=True,
    ).result
    occupied = result.eigenvalues_dft < wfs.efermi
    return corrected_bands(
        "G0W0",
        atoms,
        calculator,
        wfs.gpw.path,
        result.eigenvalues_gw - result.eigenvalues_dft,
        result.bands[0],
        fermi_level_between(result.eigenvalues_gw, occupied),
        npoints,
        path,
    )
