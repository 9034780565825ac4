"""The search page: queries, filters, sorting, columns, paging, links."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from ase.db import connect
from webapp_project import NFILLER

NROWS = 4 + NFILLER


def text(response) -> str:
    return response.get_data(as_text=True)


def row_links(html: str) -> list[str]:
    """The material each table row links to, in order (one per row)."""
    found = re.findall(r'<a class="rowlink" href="/material/([^"]+)">', html)
    return list(dict.fromkeys(found))


def count_line(html: str) -> str:
    match = re.search(r'<span class="count" id="row-count">(.*?)</span>', html, re.S)
    assert match, "no row count on the page"
    return " ".join(match.group(1).split())


def column_values(html: str, column: int) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    values = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r'<a class="rowlink"[^>]*>(.*?)</a>', row, re.S)
        values.append(unescape(cells[column]))
    return values


def headers(html: str) -> list[str]:
    return re.findall(r'<th data-column="([^"]+)"', html)


def test_search_page_lists_first_page(client):
    response = client.get("/")
    assert response.status_code == 200
    html = text(response)
    assert "<title>Test project</title>" in html
    assert (
        count_line(html) == f"Rows 1–25 of {NROWS} matching ({NROWS} in the database)"
    )
    assert headers(html) == ["id", "formula", "gap", "magstate"]  # from metadata
    assert len(row_links(html)) == 25
    assert row_links(html)[:2] == ["mos2-uid", "si-uid"]


def test_free_query_in_ase_language(client, project_db):
    db = connect(project_db)
    for query in ["MoS2", "gap>1,ehull<0.1", "magstate=fm", "Cu", "natoms<3", "gap"]:
        html = text(client.get("/", query_string={"q": query, "limit": 200}))
        assert len(row_links(html)) == db.count(query), query
    html = text(client.get("/", query_string={"q": "MoS2"}))
    assert row_links(html) == ["mos2-uid"]
    assert 'value="MoS2"' in html  # the query stays in the box


def test_filter_widgets_come_from_the_keys(client, project_db):
    html = text(client.get("/"))
    assert 'name="min-gap"' in html and 'name="max-gap"' in html
    assert '<select name="eq-magstate"' in html
    assert '<option value="fm">fm</option>' in html
    db = connect(project_db)
    html = text(client.get("/?min-gap=1&max-gap=2.5&eq-magstate=fm&limit=200"))
    expected = db.count("gap>=1,gap<=2.5,magstate=fm")
    assert 0 < expected < NROWS
    assert len(row_links(html)) == expected
    assert '<option value="fm" selected>' in html


def test_filters_can_be_configured(project_db, tmp_path):
    from asr.webapp import create_app

    app = create_app(
        project_db,
        cache_dir=tmp_path,
        config={"filters": [{"key": "spgnum", "type": "select"}, "ehull"]},
    )
    html = text(app.test_client().get("/"))
    assert 'name="eq-spgnum"' in html
    assert 'name="min-ehull"' in html
    assert 'name="min-gap"' not in html


def test_sort_by_clicking_a_header(client):
    html = text(client.get("/"))
    link = re.search(
        r'<th data-column="gap".*?<a class="sort" href="([^"]+)"', html, re.S
    )
    assert link is not None
    ascending = unescape(link.group(1))
    assert parse_qs(urlsplit(ascending).query)["sort"] == ["gap"]
    html = text(client.get(ascending))
    gaps = [float(v) for v in column_values(html, 2) if v]
    assert gaps == sorted(gaps)
    # Clicking again sorts descending, then not at all.
    link = re.search(
        r'<th data-column="gap".*?<a class="sort" href="([^"]+)"', html, re.S
    )
    descending = unescape(link.group(1))
    assert parse_qs(urlsplit(descending).query)["sort"] == ["-gap"]
    html = text(client.get(descending))
    gaps = [float(v) for v in column_values(html, 2) if v]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[0] == 9.5  # the nasty row has the largest gap
    assert 'aria-sort="descending"' in html


def test_sort_by_id_and_unknown_sort_is_ignored(client):
    html = text(client.get("/?sort=-id&limit=10"))
    ids = [int(v) for v in column_values(html, 0)]
    assert ids == list(range(NROWS, NROWS - 10, -1))
    html = text(client.get("/?sort=nosuchkey"))
    assert client.get("/?sort=nosuchkey").status_code == 200
    assert row_links(html)[0] == "mos2-uid"


def test_pagination(client):
    html = text(client.get("/?limit=10&page=2"))
    assert count_line(html).startswith(f"Rows 11–20 of {NROWS}")
    ids = [int(v) for v in column_values(html, 0)]
    assert ids == list(range(11, 21))
    assert 'rel="next"' in html and 'rel="prev"' in html
    last = (NROWS + 9) // 10
    html = text(client.get(f"/?limit=10&page={last + 5}"))  # clamped to the last
    assert count_line(html).startswith(f"Rows {10 * (last - 1) + 1}–{NROWS}")
    assert 'rel="next"' not in html
    # Page links keep the query.
    html = text(client.get("/?q=Cu&limit=10"))
    pages = re.findall(r'<nav class="pager".*?</nav>', html, re.S)[0]
    assert "q=Cu" in pages and "page=2" in pages


def test_add_and_remove_columns(client):
    response = client.get("/?q=Cu&add=ehull")
    assert response.status_code == 302
    target = response.headers["Location"]
    params = parse_qs(urlsplit(target).query)
    assert params["columns"] == ["id,formula,gap,magstate,ehull"]
    assert params["q"] == ["Cu"]
    html = text(client.get(target))
    assert headers(html) == ["id", "formula", "gap", "magstate", "ehull"]
    assert '<option value="ehull">' not in html  # already shown
    remove = re.search(
        r'<th data-column="gap".*?<a class="remove" href="([^"]+)"', html, re.S
    )
    html = text(client.get(unescape(remove.group(1))))
    assert headers(html) == ["id", "formula", "magstate", "ehull"]
    # Unknown columns are not added.
    response = client.get("/?add=nosuchkey")
    assert "nosuchkey" not in response.headers["Location"]


def test_special_columns(client):
    html = text(
        client.get("/?columns=id,natoms,pbc,volume,unique_id,age,user&limit=10")
    )
    assert headers(html) == [
        "id",
        "natoms",
        "pbc",
        "volume",
        "unique_id",
        "age",
        "user",
    ]
    assert column_values(html, 1)[0] == "3"
    assert column_values(html, 2)[0] == "TTF"
    assert column_values(html, 4)[0] == "mos2-uid"


def test_direct_link_holds_the_whole_state(client):
    html = text(client.get("/?q=Cu&sort=-gap&limit=10&page=2&columns=id,gap&min-gap=1"))
    link = unescape(re.search(r'<a id="permalink" href="([^"]+)"', html).group(1))
    assert link.startswith("http://localhost/?")
    params = parse_qs(urlsplit(link).query)
    assert params == {
        "q": ["Cu"],
        "min-gap": ["1"],
        "columns": ["id,gap"],
        "sort": ["-gap"],
        "page": ["2"],
        "limit": ["10"],
    }
    assert text(client.get(link)) == html


@pytest.mark.parametrize(
    "query, message",
    [
        ({"q": "gap>>1"}, "Bad query"),
        ({"q": "formula>MoS2"}, "Bad query"),
        ({"q": "pbc>1"}, "Bad query"),
        ({"q": "natoms=abc"}, "Bad query"),
        ({"q": "id=99999999999999999999999"}, "Bad query"),
        ({"min-gap": "abc"}, "the minimum of gap must be a number, not &#39;abc&#39;"),
        ({"max-gap": "nan"}, "the maximum of gap must be finite"),
        ({"eq-nokey": "x"}, "there is no key &#39;nokey&#39; to filter on"),
    ],
)
def test_bad_query_is_a_clear_400(client, query, message):
    response = client.get("/", query_string=query)
    assert response.status_code == 400
    html = text(response)
    error = re.search(r'<p class="error" role="alert" id="query-error">(.*?)</p>', html)
    assert error is not None and message in error.group(1)
    assert 'id="rows"' not in html
    assert 'id="q"' in html  # the form is still there to fix the query


def test_robots_and_headers(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and "Disallow: /" in text(response)
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_only_get(client):
    assert client.post("/").status_code == 405
    assert client.post("/material/1").status_code == 405
