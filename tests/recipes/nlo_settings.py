"""Tiny settings shared by the nonlinear-optics tests (asr.shg, asr.shift).

Both compute the same cubic-BN wave functions (`asr.wavefunctions`) with
these settings, in one store (the `bn_nlo_store` fixture): once for both.
"""

from gpaw_settings import tiny_pw

TINY = tiny_pw([2, 2, 2], convergence={"bands": "occupied"}, nbands=-2)
NLO = {"kpts": {"size": [3, 3, 3], "gamma": True}, "nbands": 12, "nfrequencies": 21}
