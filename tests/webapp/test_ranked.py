"""Defaults chosen by meaning: ranked keys, labels and precision on every page."""

from __future__ import annotations

import re

import pytest

from asr.webapp import create_app
from asr.webapp.numbers import format_value

NOISE = re.compile(r"\d\.\d{5,}")  # six digits of noise: 1.69832, 0.0625514


def text(response) -> str:
    assert response.status_code == 200
    return " ".join(response.get_data(as_text=True).split())


def labels(html: str) -> dict[str, str]:
    """Table lines of a page: key -> the label shown for it."""
    found = re.findall(r'<tr data-key="([^"]*)"> <th>([^<]*?) ?(?:<button|</th>)', html)
    return dict(found)


def test_recipes_rank_the_keys_c2db_shows_first():
    from asr.recipes import convex_hull, gs, magstate, phonopy, stiffness
    from asr.recipes import structureinfo as si

    results = [
        si.StructureInfoResult,
        gs.GroundStateResult,
        magstate.MagstateResult,
        convex_hull.ConvexHullResult,
        phonopy.PhonopyResult,
        stiffness.StiffnessResult,
    ]
    ranked = {
        info.name: info
        for result in results
        for info in result.keys()
        if info.priority is not None
    }
    order = sorted(ranked, key=lambda k: ranked[k].priority)
    assert order[:7] == [
        "spacegroup",
        "gap_soc",
        "magstate",
        "ehull",
        "hform",
        "dynamic_stability_phonons",
        "dynamic_stability_stiffness",
    ]
    assert all(ranked[k].database and ranked[k].label for k in ranked)


@pytest.mark.parametrize(
    "value, digits, shown",
    [
        (1.69832, None, "1.698"),
        (76.5146, None, "76.51"),
        (0.0625514, None, "0.063"),
        (1234.5678, None, "1235"),
        (123456.7, None, "1.23e+05"),
        (0.0004, None, "0.0004"),
        (0.0, None, "0"),
        (0.12, 1, "0.1"),
        (3, None, "3"),
        (True, None, "Yes"),
        (float("nan"), None, "nan"),
    ],
)
def test_numbers_follow_their_meaning(value, digits, shown):
    assert format_value(value, digits) == shown


def test_fromtree_writes_the_ranking_for_ase(ranked_db):
    from ase.db import connect

    meta = connect(ranked_db).metadata
    assert meta["default_columns"] == [
        "formula",
        "spacegroup",
        "gap_soc",
        "magstate",
        "ehull",
        "hform",
        "thermodynamic_stability",
    ]
    assert meta["key_priority"]["gap_soc"] == 20
    assert meta["key_digits"] == {"magmom_cell": 1}
    assert meta["key_descriptions"]["gap_soc"] == [
        "Gap (SOC)",
        "Band gap with spin-orbit coupling",
        "eV",
    ]


def test_search_page_shows_ranked_columns_and_filters(ranked_client):
    html = text(ranked_client.get("/"))
    columns = re.findall(r'<th data-column="(\w+)"', html)
    assert columns[:5] == ["formula", "spacegroup", "gap_soc", "magstate", "ehull"]
    filters = re.findall(r'<div class="filter filter-\w+" data-key="(\w+)"', html)
    assert filters[:4] == ["spacegroup", "gap_soc", "magstate", "ehull"]
    assert 'Gap (SOC)</a> <span class="unit">(eV)</span>' in html
    assert "Energy above hull (eV/atom)" in html  # the filter's label
    assert ">1.698<" in html and ">0.063<" in html
    assert not NOISE.search(html)


def test_material_summary_is_short_and_the_rest_behind_it(ranked_client):
    html = text(ranked_client.get("/material/1"))
    summary = html[html.index('id="summary"') : html.index('id="all-properties"')]
    assert list(labels(summary)) == [
        "formula",
        "spacegroup",
        "gap_soc",
        "magstate",
        "ehull",
        "hform",
        "thermodynamic_stability",
    ]
    assert 'class="thumbnails"' in summary
    assert 'href="#panel-' in summary and "/figure/" in summary
    everything = html[html.index('id="all-properties"') :]
    everything = everything[: everything.index("</details>")]
    shown = labels(everything)
    assert shown["gap_dir"] == "Direct band gap without spin-orbit coupling"
    assert shown["weight"] == "Weight of the gap states"
    assert ">76.51<" in everything and ">0.1<" in everything  # digits=1


def test_no_raw_field_names_or_noise_on_any_page(ranked_client):
    for ident in ("1", "2"):
        html = text(ranked_client.get(f"/material/{ident}"))
        shown = labels(html)
        raw = {k: v for k, v in shown.items() if v == k or "_" in v}
        assert raw == {}
        assert shown["vbm_soc"] == "Valence band maximum with SOC"
        assert not NOISE.search(html)


def test_project_config_overrides_the_ranking(ranked_db, tmp_path):
    config = {
        "default_columns": ["formula", "hform"],
        "filters": ["magstate"],
        "summary": ["weight"],
        "key_digits": {"weight": 0},
    }
    client = create_app(ranked_db, config=config, cache_dir=tmp_path).test_client()
    html = text(client.get("/"))
    assert re.findall(r'<th data-column="(\w+)"', html) == ["formula", "hform"]
    assert re.findall(r'data-key="(\w+)"', html) == ["magstate"]
    page = text(client.get("/material/1"))
    summary = page[page.index('id="summary"') : page.index('id="all-properties"')]
    assert list(labels(summary)) == ["formula", "weight"]
    assert ">77<" in summary
