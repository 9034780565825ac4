from ase.build import bulk, mx2

from asr.recipes.structureinfo import main as structureinfo


def test_mos2_monolayer(store):
    result = structureinfo(mx2("MoS2", vacuum=7.5)).result
    assert result.spacegroup == "P-6m2"
    assert result.spgnum == 187
    assert result.crystal_type == "AB2-187-bi"
    assert result.dimensionality == 2
    assert result.stoichiometry == "AB2"
    assert result.database_keys()["spgnum"] == 187


def test_silicon(store):
    result = structureinfo(bulk("Si")).result
    assert (result.spgnum, result.dimensionality, result.natoms) == (227, 3, 2)
    assert result.formula == "Si2"
