"""The app in a real headless Chromium: search, sort, open, unfold, rotate.

Skipped only when Chromium is not installed (`make test` installs it).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
        reason="needs Debian's chromium and chromium-driver (apt-get install "
        "chromium chromium-driver, as `make test` does)",
    ),
]


@pytest.fixture
def server(app):
    """The app served by a real threaded HTTP server on 127.0.0.1."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(executable_path=str(CHROMEDRIVER)), options=options
    )
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def column(driver, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#rows tbody tr")
    return [r.find_elements(By.TAG_NAME, "td")[index].text for r in rows]


def test_search_sort_open_and_unfold(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    assert browser.title == "Test project"
    assert "of 40 matching" in browser.find_element(By.ID, "row-count").text
    browser.save_screenshot(str(tmp_path / "search.png"))

    # Search with the query box.
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("gap>1", Keys.ENTER)
    wait_for(browser, lambda d: "q=gap" in d.current_url)
    count = browser.find_element(By.ID, "row-count").text
    assert "matching" in count and "of 40 matching" not in count
    gaps = [float(g) for g in column(browser, 2)]
    assert all(g > 1 for g in gaps)

    # Sort by clicking the gap header, twice: descending.
    browser.find_element(By.CSS_SELECTOR, 'th[data-column="gap"] a.sort').click()
    wait_for(browser, lambda d: "sort=gap" in d.current_url)
    gaps = [float(g) for g in column(browser, 2)]
    assert gaps == sorted(gaps)
    browser.find_element(By.CSS_SELECTOR, 'th[data-column="gap"] a.sort').click()
    wait_for(browser, lambda d: "sort=-gap" in d.current_url)
    gaps = [float(g) for g in column(browser, 2)]
    assert gaps == sorted(gaps, reverse=True)
    assert browser.find_element(By.ID, "q").get_attribute("value") == "gap>1"
    browser.save_screenshot(str(tmp_path / "sorted.png"))

    # Back to all rows; open MoS2 from the table.
    browser.get(server + "/?q=MoS2")
    browser.find_element(By.CSS_SELECTOR, "#rows tbody a.rowlink").click()
    wait_for(browser, lambda d: "/material/" in d.current_url)
    assert browser.find_element(By.ID, "formula").text == "MoS2"

    # The viewer drew atoms on its canvas, and dragging rotates them.
    def canvas_pixels():
        return browser.execute_script(
            "var c = document.getElementById('viewer');"
            "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "var n = 0, h = 0;"
            "for (var i = 3; i < d.length; i += 4)"
            "  if (d[i] > 0) { n++; h = (h * 31 + i) % 1000003; }"
            "return [n, h];"
        )

    drawn, before = canvas_pixels()
    assert drawn > 1000
    canvas = browser.find_element(By.ID, "viewer")
    ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(
        80, 30
    ).release().perform()
    assert canvas_pixels()[1] != before

    # Panels are folded; clicking a title unfolds it and shows its figure.
    gap_panel = browser.find_element(
        By.XPATH,
        "//details[@class='panel'][.//span[@class='title' and text()='Band gap']]",
    )
    assert gap_panel.get_attribute("open") is None
    image = gap_panel.find_element(By.CSS_SELECTOR, ".figures img")
    assert not image.is_displayed()
    gap_panel.find_element(By.CSS_SELECTOR, "summary .title").click()
    wait_for(browser, lambda d: gap_panel.get_attribute("open") is not None)
    assert image.is_displayed()
    wait_for(
        browser,
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        ),
    )

    # The "?" shows the description without folding the panel again.
    info = gap_panel.find_element(By.CSS_SELECTOR, "summary button.info")
    box = gap_panel.find_element(By.CSS_SELECTOR, "summary .infobox")
    assert not box.is_displayed()
    info.click()
    assert box.is_displayed()
    assert box.text == "Band gap of a structure (a made-up model)."
    assert gap_panel.get_attribute("open") is not None
    key_info = gap_panel.find_element(By.CSS_SELECTOR, 'tr[data-key="gap"] button.info')
    key_info.click()
    assert (
        "Band gap of the model"
        in gap_panel.find_element(By.CSS_SELECTOR, 'tr[data-key="gap"] .infobox').text
    )

    # No script errors on the way.
    errors = [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
    ]
    assert errors == []
    browser.execute_script("arguments[0].scrollIntoView()", gap_panel)
    browser.save_screenshot(str(tmp_path / "material.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(tmp_path / "material-top.png"))
    assert (tmp_path / "material.png").stat().st_size > 10_000
