"""ASR: Atomic Simulation Recipes."""

__version__ = "0.1.0"
