"""The public catalogue in a real headless Chromium (Debian's, from scripts/install-browser):
pages render, links resolve, the language switch and the search work, no console errors.
Screenshots go to reports/site-screenshots/ (kept as CI artefacts)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.project import ProjectPaths
from kuntapilvi.site import build

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "reports" / "site-screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cat, _ = load_catalogue(ProjectPaths(REPO))
    root = tmp_path_factory.mktemp("site")
    build(cat, root)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_bin is None:
        pytest.fail("chromium and chromedriver are missing: run scripts/install-browser")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1100,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_bin))
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _severe(driver) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_pages_render_in_three_languages_and_links_resolve(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    titles = {"fi": "Palveluluettelo", "sv": "Tjänstekatalog", "en": "Service catalogue"}
    checked: set[str] = set()
    for lang, title in titles.items():
        for page in ("index.html", "prices.html", "owners.html", "cards/office.file-share.html"):
            browser.get(f"{served}/{lang}/{page}")
            assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
            assert browser.find_element(By.TAG_NAME, "h1").text
            if page == "index.html":
                assert browser.find_element(By.TAG_NAME, "h1").text == title
            name = f"{lang}-{page.replace('/', '-').removesuffix('.html')}.png"
            browser.save_screenshot(str(SHOTS / name))
            links = [a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")]
            for link in links:
                target = link.split("#")[0]
                if target in checked:
                    continue
                assert target.startswith(served), f"{page} links outside the site: {link}"
                with urllib.request.urlopen(target, timeout=10) as response:
                    assert response.status == 200, target
                checked.add(target)
            assert _severe(browser) == [], f"console errors on {lang}/{page}"
    assert len(checked) > 40


def test_language_switch_keeps_the_page(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/fi/cards/network.wan-link.html")
    browser.find_element(By.ID, "lang-sv").click()
    assert browser.current_url.endswith("/sv/cards/network.wan-link.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Förbindelse till kommunnätet"
    browser.find_element(By.ID, "lang-en").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    browser.save_screenshot(str(SHOTS / "en-card-after-switch.png"))
    assert _severe(browser) == []


def test_search_filters_the_cards(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/sv/index.html")
    total = len(browser.find_elements(By.CSS_SELECTOR, "#cards li"))
    box = browser.find_element(By.ID, "q")
    box.send_keys("dns-zone")
    items = browser.find_elements(By.CSS_SELECTOR, "#cards li")
    visible = [li for li in items if li.is_displayed()]
    assert len(visible) == 1 and "network.dns-zone" in visible[0].get_attribute("innerHTML")
    assert browser.find_element(By.ID, "count").text == "1"
    browser.save_screenshot(str(SHOTS / "sv-search-dns.png"))
    box.clear()
    box.send_keys("zzzz-nothing")
    assert browser.find_element(By.ID, "count").text == "0"
    box.clear()
    box.send_keys(" ")
    assert browser.find_element(By.ID, "count").text == str(total)
    assert _severe(browser) == []
