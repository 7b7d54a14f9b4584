"""Issue 19: the dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
which .ci/run installs; driven by Selenium, nothing downloaded): each page renders the store's
data, search finds a user, a record holding HTML stays text, no secret is in a page, and the
console stays free of errors (a CSP violation, a failed script or a 404 asset would show there).
And in Firefox (Debian's firefox-esr, driven by puppeteer-core from tests/js over WebDriver BiDi):
every page loads with a clean console, its records inert.

`pytest tests/test_dashboard_browser.py --screenshots DIR` writes a PNG of each page to DIR.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from dashboard_site import KEY, SCRIPT, XSS, fetch

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
JS = Path(__file__).parent / "js"


def unavailable(what):
    if os.environ.get("COGID_BROWSER_TESTS") == "required":  # .ci/run: never skipped there
        pytest.fail(f"the browser tests need {what}, which .ci/run installs")
    pytest.skip(f"not here: {what}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        unavailable("Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Headless, and nothing reaching outside this machine (its network is closed: Chromium's
    # background fetches would fail, many at a time).
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def visit(browser, site, request):
    """Open a dashboard page (a path under /_cogid/) and check it as every page is checked: no
    console error, no secret; with --screenshots DIR, a PNG of it named `shot`."""
    shots = request.config.getoption("--screenshots")
    browser.get(site.board + f"?key={KEY}")  # as the URL cogid serve prints: the key becomes a cookie
    assert browser.current_url == site.board
    browser.get_log("browser")  # what earlier tests left

    def open_page(path, shot=None):
        browser.get(site.board + path)
        return checked(shot)

    def checked(shot=None):
        source = browser.page_source
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], errors
        for name, secret in site.secrets.items():
            assert secret not in source, f"{name} in {browser.current_url}"
        if shots and shot:
            Path(shots).mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(Path(shots) / f"{shot}.png"))
        return browser

    def following(action, shot=None):
        """Do what leads to a new page (a click, a submit) and check that page once it has loaded.
        ChromeDriver's click returns before a navigation that has not started yet (a busy machine):
        so wait for the old document to go, then for the new one to be complete."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        old = browser.find_element("tag name", "html")
        action()
        wait = WebDriverWait(browser, 20)
        wait.until(expected_conditions.staleness_of(old), "the page never changed")
        wait.until(lambda _: browser.execute_script("return document.readyState") == "complete")
        return checked(shot)

    open_page.checked, open_page.following = checked, following
    return open_page


def by_css(browser, selector):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def test_the_pools_page_leads_to_a_pool_and_its_identities(visit, site):
    browser = visit("", "pools")
    (link,) = [a for a in by_css(browser, "td a") if a.text == "sync"]
    visit.following(link.click, "pool")
    assert browser.find_element("tag name", "h1").text == "sync"
    assert site.world.provider in browser.page_source
    assert len([cell for cell in by_css(browser, "td.ok") if "trusts this pool" in cell.text]) == 2
    visit.following(by_css(browser, "dl.facts a")[0].click, "identities")
    assert len(by_css(browser, "tbody tr")) == 100


def test_search_finds_a_user(visit, site):
    browser = visit(f"pools/{urllib.parse.quote(site.pool, safe='')}/identities")
    box = browser.find_element("id", "q")
    box.send_keys("alice")
    visit.following(box.submit, "search")
    rows = by_css(browser, "tbody tr")
    assert len(rows) == 1 and site.alice in rows[0].text and "fb-alice" in rows[0].text
    visit.following(rows[0].find_element("tag name", "a").click)
    assert browser.find_element("tag name", "h1").text == site.alice


def test_an_identitys_records_render_as_text_and_run_nothing(visit, site):
    from selenium.common.exceptions import NoAlertPresentException

    browser = visit(f"identities/{urllib.parse.quote(site.alice, safe='')}", "identity")
    values = [cell.text for cell in by_css(browser, "section.dataset td pre")]
    assert values == [XSS, SCRIPT, "light"]  # in key order: bio, note, theme
    assert by_css(browser, "section.dataset img") == []
    assert browser.execute_script("return window.pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert "graph.facebook.com: fb-alice" in browser.find_element("css selector", "dl.facts").text
    assert site.device in browser.page_source


def test_the_outbox_shows_the_push_and_the_stream(visit):
    browser = visit("outbox", "outbox")
    kinds = [row.find_elements("tag name", "td")[1].text for row in by_css(browser, "tbody tr")]
    assert sorted(set(kinds)) == ["push", "stream"]
    details = by_css(browser, "details")[0]
    details.click()
    assert '"kind": "stream"' in details.text


def test_the_token_inspector_verifies_a_pasted_token_and_explains_a_garbled_one(visit, site):
    browser = visit("token")
    browser.find_element("id", "token").send_keys(site.token)
    visit.following(browser.find_element("css selector", "form.token button").click, "token")
    verdict = by_css(browser, "#token-verdict")
    assert verdict and verdict[0].text.startswith("signature verified"), browser.find_element("tag name", "main").text
    assert site.alice in browser.find_element("tag name", "main").text
    browser.find_element("id", "token").send_keys("garbled.token")
    visit.following(browser.find_element("css selector", "form.token button").click)
    assert browser.find_element("id", "token-error").text.startswith("Not a token: not a JWT")


def test_the_request_log_updates_live(visit, site):
    browser = visit("requests", "requests")
    marker = f"/never-a-route-{time.monotonic_ns()}"
    fetch(site.url + marker)
    deadline = time.monotonic() + 15
    while marker not in browser.find_element("id", "requests").text:
        assert time.monotonic() < deadline, "the request never showed"
        time.sleep(0.2)
    (row,) = [row for row in by_css(browser, "#requests tbody tr") if marker in row.text]
    status = row.find_elements("tag name", "td")[4]
    assert status.text == "404" and "bad" in status.get_attribute("class").split()  # a refused call stands out
    visit.checked()


def test_an_unknown_identity_is_a_404_page_with_a_way_back(visit, browser, site):
    browser.get(site.board + "identities/us-east-1%3Anope")
    assert browser.find_element("tag name", "h1").text == "Not found"
    assert "404" in str(browser.get_log("browser"))  # the console reports the status: expected here
    visit.following(browser.find_element("link text", "Back to the identity pools").click)
    assert browser.current_url == site.board


def test_every_page_is_clean_in_firefox(site):
    firefox, node = shutil.which("firefox-esr") or shutil.which("firefox"), shutil.which("node")
    if firefox is None or node is None or not (JS / "node_modules" / "puppeteer-core").exists():
        unavailable("Debian's firefox-esr, node and tests/js's packages (npm ci --prefix tests/js)")
    pool, alice = (urllib.parse.quote(value, safe="") for value in (site.pool, site.alice))
    paths = ["", f"pools/{pool}", f"pools/{pool}/identities", f"pools/{pool}/identities?q=alice",
             f"identities/{alice}", "token", "outbox", "requests"]
    done = subprocess.run([node, str(JS / "dashboard_firefox.mjs"), site.board, KEY, *paths],
                          env={**os.environ, "FIREFOX": firefox, "TOKEN": site.token}, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["version"].lower().startswith("firefox/")
    assert [(page["path"], page["status"], page["problems"], page["inert"]) for page in seen["pages"]] == [
        (path, 200, [], True) for path in paths]
    assert seen["inspected"]["problems"] == [] and seen["inspected"]["verdict"].startswith("signature verified")
