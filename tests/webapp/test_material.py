"""A material's page: structure, Summary, panels, figures, raw data, links."""

from __future__ import annotations

import json
import re

import pytest
from webapp_project import DRAWN, SCRIPT


def text(response) -> str:
    return response.get_data(as_text=True)


def panel(html: str, title: str) -> str:
    """The HTML of the panel with this title."""
    for match in re.finditer(
        r'<details class="panel".*?</details>\s*'
        r'(?=<details class="panel"|<section|</article)',
        html,
        re.S,
    ):
        if f'<span class="title">{title}</span>' in match.group(0):
            return match.group(0)
    raise AssertionError(f"no panel {title!r}")


def test_material_by_id_and_by_unique_id(client):
    by_id = client.get("/material/1")
    by_uid = client.get("/material/mos2-uid")
    assert by_id.status_code == by_uid.status_code == 200
    assert text(by_id) == text(by_uid)
    html = text(by_id)
    assert "<title>MoS2 · Test project</title>" in html
    assert '<h1 id="formula">MoS<sub>2</sub></h1>' in html


@pytest.mark.parametrize("ident", ["999", "9" * 30, "no-such-uid", "x" * 300])
def test_unknown_material_is_404(client, ident):
    response = client.get(f"/material/{ident}")
    assert response.status_code == 404
    assert "<h1>404</h1>" in text(response)


def test_structure_section(client):
    html = text(client.get("/material/1"))
    assert "<tr><th>Lengths a, b, c</th><td>3.1800, 3.1800, 18.1900 Å</td></tr>" in html
    assert "<tr><th>Angles α, β, γ</th><td>90.000, 90.000, 120.000°</td></tr>" in html
    assert "<tr><th>Area</th>" in html  # a layer: area, not volume
    assert '<canvas id="viewer"' in html
    data = re.search(
        r'<script type="application/json" id="structure-data">(.*?)</script>', html
    )
    viewer = json.loads(data.group(1))
    assert viewer["symbols"] == ["Mo", "S", "S"]
    assert viewer["pbc"] == [True, True, False]
    assert len(viewer["positions"]) == 3 and len(viewer["cell"]) == 3
    bulk = text(client.get("/material/si-uid"))
    assert "<tr><th>Volume</th>" in bulk


def test_summary_gathers_keys_by_recipe_priority(client):
    html = text(client.get("/material/1"))
    summary = panel(html, "Summary")
    assert '<details class="panel" id="summary" data-recipe="" open>' in summary
    keys = re.findall(r'<tr data-key="([^"]+)">', summary)
    # structureinfo (first by priority), then the model's keys, then the rest.
    assert keys[:3] == ["formula", "stoichiometry", "crystal_type"]
    assert keys.index("dimensionality") < keys.index("gap") < keys.index("ehull")
    assert keys[-1] == "magstate"
    # Descriptions and units: the metadata's, else the Result's.
    assert (
        '<th>Gap <button type="button" class="info" title="Band gap from the model"'
        in summary
    )
    assert '<td class="unit">eV/atom</td>' in summary
    assert 'title="Space group symbol"' in summary
    assert "How this was computed (2 records)" in summary


def test_one_panel_per_record(client):
    html = text(client.get("/material/1"))
    titles = re.findall(r'<span class="title">(.*?)</span>', html)
    assert titles == ["Summary", "Structure", "Band gap", "test.webapp.plain"]
    structure = panel(html, "Structure")
    assert 'data-recipe="asr.structureinfo"' in structure
    assert " open" not in structure.split(">", 1)[0]  # folded until clicked
    assert re.search(
        r'<tr data-key="spacegroup">.*?<td class="value">P-6m2</td>', structure, re.S
    )
    # The panel's "?" says what the recipe does.
    assert (
        'title="Formula, crystal type, space group, cell and dimensionality."'
        in structure
    )
    plain = panel(html, "test.webapp.plain")
    assert '<td class="value">plain data</td>' in plain
    assert 'title="An instruction returning plain data, not a Result."' in plain


def test_panel_lists_records_and_arguments(client):
    html = text(client.get("/material/1"))
    gap = panel(html, "Band gap")
    sources = re.findall(r'<span class="recipe">(.*?)</span>', gap)
    assert sources == ["test.webapp.gap", "asr.structureinfo"]  # with its dependency
    assert "used by the above" in gap
    assert "<tr><th>atoms</th><td>Atoms(MoS2, pbc=TTF)</td></tr>" in gap
    assert "<tr><th>shift</th><td>0</td></tr>" in gap
    assert '<td class="value">direct</td>' in gap
    assert '<td class="unit">eV</td>' in gap


def test_figures_are_drawn_once_and_served(app, client):
    DRAWN.clear()
    html = text(client.get("/material/1"))
    src = re.search(r'<img src="([^"]+/bands.png)"', panel(html, "Band gap")).group(1)
    response = client.get(src)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert DRAWN == [pytest.approx(0.8)]
    # A new app (empty memory cache) on the same cache folder draws nothing.
    from asr.webapp import create_app

    project = app.extensions["asr"]
    again = create_app(project.path, cache_dir=project.cache_dir).test_client()
    assert again.get("/material/1").status_code == 200
    assert again.get(src).data == response.data
    assert DRAWN == [pytest.approx(0.8)]
    # Per-row folders; one folder per Record revision.
    folder = project.materials.get((1, "mos2-uid", _mtime(project, 1))).folder
    assert folder.parent == project.cache_dir
    assert (folder / src.split("/")[-2] / "bands.png").is_file()


def test_figures_not_named_drawn_missing_or_failing(client):
    html = text(client.get("/material/sketch-uid"))
    # Not named by the webpanel: drawn while the page is built.
    undeclared = panel(html, "Sketch undeclared")
    src = re.search(r'<img src="([^"]+/sketch.svg)"', undeclared).group(1)
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    # Named but never drawn, or drawing fails: the figure is a 404, not a 500.
    for title in ("Sketch none", "Sketch fail"):
        src = re.search(r'<img src="([^"]+/sketch.svg)"', panel(html, title)).group(1)
        assert client.get(src).status_code == 404
    # Once known to be missing, the page no longer shows it.
    html = text(client.get("/material/sketch-uid"))
    assert "<img" in panel(html, "Sketch none")  # cached page: same as before
    again = client.application.extensions["asr"]
    again.materials = type(again.materials)()  # as if both fell out of
    again.pages = type(again.pages)()  # their caches
    html = text(client.get("/material/sketch-uid"))
    assert "<img" not in panel(html, "Sketch none")


def _mtime(project, row_id):
    return project.db.get(id=row_id).mtime


def test_material_pages_are_cached(app, client):
    project = app.extensions["asr"]
    client.get("/material/1")
    first = project.materials.get((1, "mos2-uid", _mtime(project, 1)))
    client.get("/material/mos2-uid")
    assert project.materials.get((1, "mos2-uid", _mtime(project, 1))) is first
    assert len(project.materials) == 1


def test_raw_json_download(client):
    response = client.get("/material/1/raw.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert (
        'attachment; filename="mos2-uid.json"'
        == response.headers["Content-Disposition"]
    )
    data = json.loads(response.data)
    assert data["unique_id"] == "mos2-uid" and data["formula"] == "MoS2"
    names = sorted(r["name"] for r in data["records"])
    assert names == ["asr.structureinfo", "test.webapp.gap", "test.webapp.plain"]
    gap = next(r for r in data["records"] if r["name"] == "test.webapp.gap")
    assert gap["result"]["gap"] == pytest.approx(0.8)
    assert gap["result"]["energies"] == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    assert gap["arguments"]["atoms"]["symbols"] == ["Mo", "S", "S"]
    assert len(gap["dependencies"]) == 1
    assert data["key_value_pairs"]["magstate"] == "nm"


def test_raw_browse(client):
    response = client.get("/material/1/raw")
    assert response.status_code == 200
    html = text(response)
    assert '<ul class="tree" id="raw-tree">' in html
    assert "test.webapp.gap" in html and "3 records" in html
    assert '<span class="v str">direct</span>' in html


def test_links_to_related_materials(client):
    html = text(client.get("/material/1"))
    links = re.search(r'<section class="links" id="links">(.*?)</section>', html, re.S)
    links = links.group(1)
    assert '<a href="/material/si-uid">Si (bulk)</a>' in links
    assert (
        '<a href="https://c2db.example.org/material/abc" rel="noopener noreferrer '
        'nofollow">C2DB entry</a>' in links
    )
    assert '<a href="https://example.org/paper"' in links
    assert "javascript:" not in links and "<span>Evil</span>" in links
    # A link given as a bare unique id, and following it.
    html = text(client.get("/material/si-uid"))
    assert '<a href="/material/mos2-uid">mos2-uid</a>' in html
    assert client.get("/material/mos2-uid").status_code == 200


def test_structure_files(client):
    response = client.get("/material/1/structure.xyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines()[0].strip() == "3"
    cif = client.get("/material/1/structure.cif").get_data(as_text=True)
    assert "_cell_length_a" in cif
    assert client.get("/material/1/structure.pdf").status_code == 404


def test_xss_keys_and_values_show_as_text(client):
    html = text(client.get("/material/nasty-uid"))
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert f'<span class="title">Nasty {escaped}</span>' in html  # panel title
    assert f'<tr data-key="key{escaped}">' in html  # a key
    assert f'<td class="value">value{escaped}</td>' in html  # a value
    assert '<td class="unit">&lt;b&gt;u&lt;/b&gt;</td>' in html
    assert f"Note {escaped}" in html  # a label from the metadata
    search = text(client.get("/?columns=id,note,magstate&q=note"))
    assert "<script>alert" not in search
    assert escaped in search
    raw = text(client.get("/material/nasty-uid/raw"))
    assert "<script>alert" not in raw and escaped in raw
    # Also in a query echoed back in an error message.
    bad = text(client.get("/", query_string={"q": SCRIPT + ">>1"}))
    assert "<script>alert" not in bad


@pytest.mark.parametrize(
    "path",
    [
        "/material/1/figure/{oid}/..%2F..%2Fproject.db",
        "/material/1/figure/{oid}/../../etc/passwd",
        "/material/1/figure/{oid}/%2E%2E%2Ffigures.json",
        "/material/1/figure/{oid}/figures.json",
        "/material/1/figure/{oid}/.hidden.png",
        "/material/1/figure/{oid}/other.png",
        "/material/1/figure/..%2F{oid}/bands.png",
        "/material/1/figure/{oid}%2F..%2F{oid}/bands.png",
        "/material/1/figure/00000000000000000000000000000000/bands.png",
        "/material/1/figure/{oid}/bands.png%00.png",
        "/material/..%2F..%2Fetc/figure/{oid}/bands.png",
        "/material/2/figure/{oid}/bands.png",  # a figure of another row
        "/static/..%2F..%2Fapp.py",
        "/static/../app.py",
    ],
)
def test_path_traversal_is_refused(client, path):
    html = text(client.get("/material/1"))
    oid = re.search(
        r'<img src="/material/mos2-uid/figure/([0-9a-f]{32})/bands.png"', html
    ).group(1)
    response = client.get(path.format(oid=oid))
    assert response.status_code in (400, 404), path
    assert b"PNG" not in response.data[:8]
