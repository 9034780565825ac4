"""Tiny settings shared by the nonlinear-optics tests (asr.shg, asr.shift).

Both compute the same cubic-BN wave functions (`asr.wavefunctions`) with
these settings, in one store (the `bn_nlo_store` fixture): once for both.
"""

TINY = {
    "name": "gpaw",
    "mode": {"name": "pw", "ecut": 200},
    "xc": "PBE",
    "kpts": {"size": [2, 2, 2], "gamma": True},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
    "convergence": {"bands": "occupied"},
    "nbands": -2,
    "txt": None,
}
NLO = {"kpts": {"size": [3, 3, 3], "gamma": True}, "nbands": 12, "nfrequencies": 21}
