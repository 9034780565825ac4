"""The search table answers as ASE does, and the search page no longer asks
ASE's SQLite backend (which opened a connection per row it read)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.db import connect

from asr.webapp.db import file_version
from asr.webapp.searchtable import SearchTable, open_search_table

ELEMENTS = ["Mo", "W", "S", "Se", "Cu", "O", "H"]


def make_db(path: Path, nrows: int = 60) -> Path:
    rng = np.random.default_rng(7)
    db = connect(path, use_lock_file=False)
    with db:
        for i in range(nrows):
            symbols = [ELEMENTS[(i + j) % len(ELEMENTS)] for j in range(1 + i % 4)]
            atoms = Atoms(
                symbols,
                positions=rng.uniform(0, 3, (len(symbols), 3)),
                cell=np.eye(3) * (3 + i % 3),
                pbc=[True, i % 2 == 0, i % 3 == 0],
            )
            if i % 4 == 0:
                atoms.calc = SinglePointCalculator(
                    atoms,
                    energy=-float(i),
                    forces=rng.normal(size=(len(atoms), 3)),
                    magmom=0.5 * (i % 3),
                )
            if i % 6 == 0:
                atoms.set_constraint(FixAtoms([0]))
            pairs = {"label": f"m{i:03d}", "flag": bool(i % 2)}
            if i % 5:
                pairs["gap"] = round(float(rng.uniform(0, 3)), 3)
            if i % 7:
                pairs["magstate"] = ["nm", "fm", "afm"][i % 3]
            pairs["mixed"] = f"t{i}" if i % 3 == 0 else i  # text or number
            if i % 2:
                pairs["spg"] = i % 11
            db.write(atoms, key_value_pairs=pairs)
    return path


@pytest.fixture(scope="module")
def db_and_table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("searchtable")
    db = connect(make_db(folder / "mixed.db"))
    return db, open_search_table(db, folder / "cache", file_version(db))


QUERIES = [
    "",
    "gap>1",
    "gap>=1,gap<=2,magstate=fm",
    "magstate=fm",
    "magstate!=fm",
    "magstate<fm",
    "flag=True",
    "flag=False",
    "flag",
    "gap",
    "-gap",
    "nokey",
    "nokey=3",
    "mixed>10",
    "mixed=t3",
    "mixed<t5",
    "spg=3",
    "spg!=3",
    "MoS2",
    "Cu",
    "Cu=0",
    "Cu<2",
    "Se>1",
    "H=1,O=0",
    "formula=WS",
    "natoms<3",
    "natoms=2,pbc=TTF",
    "pbc!=TFF",
    "id<10",
    "id=5",
    "energy<-8",
    "energy",
    "forces",
    "fmax>0.1",
    "constraints",
    "calculator",
    "calculator=unknown",
    "magmom>0",
    "volume>30",
    "charge=0",
    "mass>100",
    "unique_id=nope",
    "label=m007",
    "label>m050",
    "age<1h",
    "user=nobody",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_query_finds_what_ase_finds(db_and_table, query):
    from ase.db.core import parse_selection

    db, table = db_and_table
    keys, cmps = parse_selection(query)
    expected = sorted(row.id for row in db.select(query, include_data=False))
    assert table.count(keys, cmps) == db.count(query) == len(expected)
    found = table.select(keys, cmps, limit=1000)
    assert [row["id"] for row in found] == expected  # unsorted: by id, as ASE


@pytest.mark.parametrize(
    "sort", ["gap", "-gap", "label", "-label", "energy", "-natoms", "-id", "spg"]
)
@pytest.mark.parametrize("query", ["", "magstate=fm", "Se"])
def test_sorting_and_paging_as_ase(db_and_table, query, sort):
    from ase.db.core import parse_selection

    db, table = db_and_table
    keys, cmps = parse_selection(query)
    name = sort.lstrip("-")
    expected = [row.get(name) for row in db.select(query, sort=sort)]
    pages = [
        table.select(keys, cmps, sort=sort, limit=7, offset=offset)
        for offset in range(0, len(expected) + 7, 7)
    ]
    rows = [row for page in pages for row in page]
    got = [
        row.get(name) if name in row else row["key_value_pairs"].get(name)
        for row in rows
    ]
    assert got == expected
    assert len({row["id"] for row in rows}) == len(rows)  # pages never overlap


def test_rows_hold_what_the_page_shows(db_and_table):
    db, table = db_and_table
    rows = table.select([], [], limit=1000)
    for row, ase_row in zip(rows, db.select(), strict=True):
        assert row["formula"] == ase_row.formula
        assert row["pbc"] == "".join("FT"[int(p)] for p in ase_row.pbc)
        assert row["key_value_pairs"] == ase_row.key_value_pairs
        assert isinstance(row["key_value_pairs"]["flag"], bool)
        for name in ("natoms", "energy", "magmom", "calculator", "user", "volume"):
            assert row[name] == ase_row.get(name), name


def test_a_search_page_does_not_read_the_database_row_by_row(tmp_path):
    """What was seen: ASE's backend opened one SQLite connection per row of a
    page (and sorted its key-value tables again on every view)."""
    from asr.webapp import create_app

    db_path = make_db(tmp_path / "project.db")
    app = create_app(db_path, cache_dir=tmp_path / "cache")
    db = app.extensions["asr"].db
    opened = []
    connect_once = db._connect

    def counting_connect():
        opened.append(1)
        return connect_once()

    db._connect = counting_connect
    client = app.test_client()
    response = client.get("/?q=gap>0.5&sort=-gap&limit=50&columns=id,formula,gap")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count('class="rowlink"') > 20
    assert opened == []


def test_a_changed_database_is_searched_anew(tmp_path):
    from asr.webapp import create_app

    db_path = make_db(tmp_path / "project.db", nrows=10)
    app = create_app(db_path, cache_dir=tmp_path / "cache")
    client = app.test_client()
    assert "m999" not in client.get("/?columns=id,label").get_data(as_text=True)
    before = sorted((tmp_path / "cache").glob("search-*.sqlite"))
    assert len(before) == 1
    connect(db_path).write(Atoms("H"), label="m999")
    stat = os.stat(db_path)
    os.utime(db_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    html = client.get("/?q=label=m999&columns=id,label").get_data(as_text=True)
    assert re.findall(r'<a class="rowlink" href="/material/([^"]+)">', html)
    after = sorted((tmp_path / "cache").glob("search-*.sqlite"))
    assert len(after) == 1 and after != before  # the old table is gone


def test_a_fresh_app_reuses_the_table(tmp_path):
    db = connect(make_db(tmp_path / "project.db", nrows=5))
    first = open_search_table(db, tmp_path / "cache", file_version(db))
    mtime = first.path.stat().st_mtime_ns
    again = open_search_table(db, tmp_path / "cache", file_version(db))
    assert isinstance(again, SearchTable) and again.path == first.path
    assert again.path.stat().st_mtime_ns == mtime


def test_unwritable_cache_falls_back_to_ase(tmp_path):
    from asr.webapp import create_app

    db_path = make_db(tmp_path / "project.db", nrows=30)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    app = create_app(db_path, cache_dir=blocker)
    assert app.extensions["asr"].tables.get() is None
    html = app.test_client().get("/?q=gap>1").get_data(as_text=True)
    assert html.count('class="rowlink"') >= connect(db_path).count("gap>1")
