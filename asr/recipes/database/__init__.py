"""Database recipes: instructions that read or annotate ASE databases.

For example ``asr.database.rmsd`` measures how far apart two structures are
and ``asr.database.duplicates`` groups the rows of a database that hold the
same structure.
"""
