"""Through the front door: `asr app` in a fresh process, driven by Chromium.

Search, filter, sort, open a material, unfold a panel, load its figure,
download the raw data and the CIF, as a reader of the project would.
"""

from __future__ import annotations

import json

import pytest
from serving import serve
from test_browser import CHROMEDRIVER, CHROMIUM, browser, column, wait_for

__all__ = ["browser"]  # the fixture, shared with test_browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
        reason="needs Debian's chromium and chromium-driver",
    ),
]


def fetch(driver, href: str) -> str:
    """The body of a link, fetched by the page (as a download would be)."""
    return driver.execute_async_script(
        "var done = arguments[1];"
        "fetch(arguments[0]).then(function (r) {"
        "  return r.text().then(function (t) { done([r.status, t]); }); });",
        href,
    )


def test_a_reader_browses_the_project(ranked_db, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with serve(ranked_db, "--cache", str(tmp_path / "cache")) as server:
        browser.get(server.url + "/")
        headers = browser.find_elements(By.CSS_SELECTOR, "#rows thead th")
        assert [h.get_attribute("data-column") for h in headers][:4] == [
            "formula",
            "spacegroup",
            "gap_soc",
            "magstate",
        ]
        assert headers[2].text.startswith("Gap (SOC) (eV)")
        assert "of 2 matching" in browser.find_element(By.ID, "row-count").text

        # Search: the formula.
        box = browser.find_element(By.ID, "q")
        box.send_keys("Si", Keys.ENTER)
        wait_for(browser, lambda d: "q=Si" in d.current_url)
        assert column(browser, 0) == ["Si2"]

        # Filter: the gap (SOC) at least 1.5 eV.
        browser.get(server.url + "/")
        low = browser.find_element(By.NAME, "min-gap_soc")
        low.send_keys("1.5", Keys.ENTER)
        wait_for(browser, lambda d: "min-gap_soc=1.5" in d.current_url)
        assert column(browser, 0) == ["MoS2"]
        assert column(browser, 2) == ["1.698"]

        # Sort by the energy above the hull, then descending.
        browser.get(server.url + "/")
        header = 'th[data-column="ehull"] a.sort'
        browser.find_element(By.CSS_SELECTOR, header).click()
        wait_for(browser, lambda d: "sort=ehull" in d.current_url)
        assert column(browser, 0) == ["Si2", "MoS2"]
        browser.find_element(By.CSS_SELECTOR, header).click()
        wait_for(browser, lambda d: "sort=-ehull" in d.current_url)
        assert column(browser, 0) == ["MoS2", "Si2"]

        # Open MoS2: the Summary is open and short, the rest folded behind it.
        browser.find_element(By.CSS_SELECTOR, "#rows tbody a.rowlink").click()
        wait_for(browser, lambda d: "/material/" in d.current_url)
        assert browser.find_element(By.ID, "formula").text == "MoS2"
        summary = browser.find_element(By.ID, "summary")
        assert summary.get_attribute("open") is not None
        rows = summary.find_elements(By.CSS_SELECTOR, ":scope > div > table tr")
        shown = [
            [c.text.removesuffix("?").strip() for c in r.find_elements(By.XPATH, "*")]
            for r in rows[1:4]
        ]
        assert shown == [
            ["Formula", "MoS2", ""],
            ["Space group", "P-6m2", ""],
            ["Gap (SOC)", "1.698", "eV"],
        ]
        everything = browser.find_element(By.ID, "all-properties")
        assert everything.get_attribute("open") is None
        everything.find_element(By.TAG_NAME, "summary").click()
        gap_dir = everything.find_element(By.CSS_SELECTOR, 'tr[data-key="gap_dir"]')
        assert gap_dir.text.startswith("Direct band gap without spin-orbit coupling")

        # Unfold the convex hull panel: its figure loads.
        panel = browser.find_element(
            By.CSS_SELECTOR, 'details.panel[data-recipe="asr.convex_hull"]'
        )
        assert panel.get_attribute("open") is None
        panel.find_element(By.CSS_SELECTOR, "summary .title").click()
        wait_for(browser, lambda d: panel.get_attribute("open") is not None)
        image = panel.find_element(By.CSS_SELECTOR, ".figures img")
        wait_for(
            browser,
            lambda d: d.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", image
            ),
            timeout=60,
        )

        # Download the raw data and the structure as CIF.
        raw = browser.find_element(By.ID, "download-raw").get_attribute("href")
        status, body = fetch(browser, raw)
        assert status == 200
        names = {record["name"] for record in json.loads(body)["records"]}
        assert {"asr.structureinfo", "asr.convex_hull"} <= names
        cif = browser.find_element(By.CSS_SELECTOR, 'a[href$="structure.cif"]')
        status, body = fetch(browser, cif.get_attribute("href"))
        assert status == 200 and "_cell_length_a" in body and "Mo" in body

        errors = [
            entry
            for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
        ]
        assert errors == []
    assert "Traceback" not in server.output
