"""Setup recipes: prepare structures before a calculation.

Symmetrize, reduce to the primitive cell, set initial magnetic moments, make
displaced structures for finite differences and point defects in supercells.
"""
