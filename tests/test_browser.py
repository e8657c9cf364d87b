"""The real UI in a real browser: headless Chromium against a live server.

A module-scoped index is built from ``seeds/articles`` and served by waitress
on a free port; Selenium drives Debian's Chromium through the search box, the
facets, the filter chips, the article page and saving a search, as a reader would;
with the keyboard alone (the skip link, where the cursor starts); and as a phone
of 390×844 with JavaScript off (the header fits, the filters are a closed box at
the top). The whole module skips when Chromium or ChromeDriver is not installed
(``make test`` installs them through its ``browser`` target).

Nothing here waits on a clock: every wait is for a page to be replaced or an
element to appear, with 10 s as a safety net only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from chromium import MISSING, WAIT, served, start_chromium
from search.alerts import add_user
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.ingest import ingest
from search.records import Article
from search.settings import Settings
from web import create_app

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

pytestmark = pytest.mark.browser

REPO = Path(__file__).parents[1]
SEEDS = REPO / "seeds" / "articles"
SCREENSHOT_COPY = Path("/tmp/newsdesk-results.png")
PHONE_SCREENSHOT_COPY = Path("/tmp/newsdesk-results-phone.png")
PHONE = {"width": 390, "height": 844}  # CSS pixels of a common phone, portrait

LAVROV = "Sergey Lavrov"


# --- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def live_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A real index of the five seed articles, in a fresh directory."""
    settings = Settings(index=tmp_path_factory.mktemp("browser-index"))
    report = ingest([SEEDS], settings, progress=False)
    assert report.added == 5, report
    return settings


@pytest.fixture(scope="module")
def base_url(live_settings: Settings) -> Iterator[str]:
    """The app served by waitress on a free port, in a daemon thread."""
    with served(create_app({"NEWSDESK_SETTINGS": live_settings})) as base_url:
        yield base_url


def _chromium(javascript: bool = True) -> Iterator[WebDriver]:
    driver, profile = start_chromium(javascript=javascript)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[WebDriver]:
    yield from _chromium()


@pytest.fixture(scope="module")
def browser_without_js(base_url: str) -> Iterator[WebDriver]:
    yield from _chromium(javascript=False)


@pytest.fixture(scope="module")
def phone(base_url: str) -> Iterator[WebDriver]:
    """Chromium as a phone (390×844, a touch device's viewport), JavaScript off: the layout must do without it."""
    driver, profile = start_chromium(javascript=False)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# --- what a reader does -----------------------------------------------------


def open_home(driver: WebDriver, base_url: str) -> None:
    _dismiss_stray_alert(driver)  # left by an earlier failing test; this one starts clean
    driver.get(base_url + "/")
    WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[name=q]")))


def open_page(driver: WebDriver, url: str) -> None:
    _dismiss_stray_alert(driver)
    driver.get(url)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver: WebDriver, base_url: str, email: str) -> None:
    """Log in through the form, from the home page's "Log in" link."""
    open_home(driver, base_url)
    follow(driver, driver.find_element(By.LINK_TEXT, "Log in"))
    driver.find_element(By.ID, "email").send_keys(email)
    password = driver.find_element(By.ID, "password")
    password.send_keys("correct horse battery")
    page = driver.find_element(By.TAG_NAME, "html")
    password.send_keys(Keys.ENTER)
    _wait_for_new_page(driver, page)
    assert driver.find_elements(By.CSS_SELECTOR, ".sitenav button"), "logged in: a log-out button"


def log_out(driver: WebDriver, base_url: str) -> None:
    open_home(driver, base_url)
    follow(driver, driver.find_element(By.CSS_SELECTOR, ".sitenav button"))


def tab(driver: WebDriver) -> WebElement:
    """Press Tab; the element that has the focus then."""
    ActionChains(driver).send_keys(Keys.TAB).perform()
    return driver.switch_to.active_element


def click(driver: WebDriver, element: WebElement) -> None:
    """Click with the pointer, where the element is on the screen, as a reader does.

    Not ``element.click()``: WebDriver refuses to click what it takes for
    hidden, and it takes the content of a closed ``<details>`` for hidden even
    where the page shows it (see ``rendered_text``).
    """
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ActionChains(driver).move_to_element(element).click().perform()


def follow(driver: WebDriver, element: WebElement) -> None:
    """Click a link and wait until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    click(driver, element)
    _wait_for_new_page(driver, page)


def search_for(driver: WebDriver, text: str) -> None:
    """Type ``text`` into the search box, press Enter, wait for the answer."""
    box = driver.find_element(By.CSS_SELECTOR, "input[name=q]")
    box.clear()
    box.send_keys(text)
    page = driver.find_element(By.TAG_NAME, "html")
    box.send_keys(Keys.ENTER)
    _wait_for_new_page(driver, page)


def _replaced(old_page: WebElement) -> bool:
    """EC.staleness_of, except that ChromeDriver's "unhandled inspector error",
    raised now and then while a page is being replaced, means "ask again"."""
    try:
        old_page.is_enabled()
    except StaleElementReferenceException:
        return True
    except UnexpectedAlertPresentException:
        raise
    except WebDriverException:
        return False
    return False


def _wait_for_new_page(driver: WebDriver, old_page: WebElement) -> None:
    try:
        WebDriverWait(driver, WAIT).until(lambda d: _replaced(old_page))
        WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")
    except UnexpectedAlertPresentException:
        pass  # the new page opened an alert: leave it open for the test to find


def total_line(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".summary .total").text


def hit_titles(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "ol.hits li.hit h3 a")]


def rendered_text(element: WebElement) -> str:
    """The text as the browser renders it (``innerText``).

    Selenium's ``.text`` and ``is_displayed()`` take everything inside a closed
    ``<details>`` for hidden; the filters are one, closed, and on a wide screen
    the stylesheet shows its content all the same (``::details-content``).
    """
    return str(element.get_property("innerText")).strip()


def _text_content(element: WebElement) -> str:
    """The text, shown or not (a closed box of filters on a phone)."""
    return str(element.get_property("textContent")).strip()


def shown(driver: WebDriver, element: WebElement) -> bool:
    """Whether the browser renders ``element`` (``Element.checkVisibility()``; see ``rendered_text``)."""
    return bool(driver.execute_script("return arguments[0].checkVisibility()", element))


def facet_link(driver: WebDriver, facet: str, label: str) -> WebElement:
    """The link for ``label`` in the ``facet`` section of the filters."""
    for link in driver.find_elements(By.CSS_SELECTOR, f"#facet-{facet} li a"):
        if _text_content(link.find_element(By.CSS_SELECTOR, ".label")) == label:
            return link
    labels = [_text_content(e) for e in driver.find_elements(By.CSS_SELECTOR, f"#facet-{facet} .label")]
    raise AssertionError(f"no {label!r} in the {facet} facet; it shows {labels}")


def facet_count(driver: WebDriver, facet: str, label: str) -> int:
    return int(rendered_text(facet_link(driver, facet, label).find_element(By.CSS_SELECTOR, ".count")))


def chips(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "ul.chips a.chip")


def _dismiss_stray_alert(driver: WebDriver) -> None:
    try:
        driver.switch_to.alert.dismiss()
    except NoAlertPresentException:
        pass


def assert_no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        pytest.fail(f"an alert fired: {text!r}")


# --- the tests --------------------------------------------------------------


def test_searching_kosovo_shows_five_articles_and_lavrov_in_the_actor_facet(browser: WebDriver, base_url: str) -> None:
    open_home(browser, base_url)
    search_for(browser, "Kosovo")

    assert total_line(browser).startswith("5 articles"), total_line(browser)
    assert "Kosovo" in browser.find_element(By.CSS_SELECTOR, ".summary .total q").text
    assert len(hit_titles(browser)) == 5
    assert all(hit_titles(browser)), "every result has a visible title"
    assert facet_count(browser, "actor", LAVROV) == 4


def test_an_actor_facet_filters_and_its_chip_removes_the_filter(browser: WebDriver, base_url: str) -> None:
    open_home(browser, base_url)
    search_for(browser, "Kosovo")
    assert chips(browser) == [], "no filter is active yet"

    follow(browser, facet_link(browser, "actor", LAVROV))
    assert total_line(browser).startswith("4 articles"), total_line(browser)
    assert len(hit_titles(browser)) == 4
    [chip] = chips(browser)
    assert LAVROV in chip.text
    selected = facet_link(browser, "actor", LAVROV)
    assert selected.get_attribute("aria-current") == "true"
    assert browser.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == "Kosovo"

    follow(browser, chip)
    assert total_line(browser).startswith("5 articles"), total_line(browser)
    assert len(hit_titles(browser)) == 5
    assert chips(browser) == []

    # Clicking the selected facet again removes the filter too.
    follow(browser, facet_link(browser, "actor", LAVROV))
    assert len(hit_titles(browser)) == 4
    follow(browser, facet_link(browser, "actor", LAVROV))
    assert len(hit_titles(browser)) == 5
    assert chips(browser) == []


def test_a_result_title_opens_the_article_whose_actors_filter_the_search(browser: WebDriver, base_url: str) -> None:
    open_home(browser, base_url)
    search_for(browser, "Kosovo")
    title = next(t for t in hit_titles(browser) if t.startswith("Lavrov:"))

    follow(browser, browser.find_element(By.LINK_TEXT, title))
    assert "/articles/" in browser.current_url
    article_id = browser.current_url.rsplit("/articles/", 1)[1]
    assert article_id
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == title
    assert browser.title.startswith(title)

    follow(browser, browser.find_element(By.CSS_SELECTOR, "ul.actors").find_element(By.LINK_TEXT, LAVROV))
    assert total_line(browser).startswith("4 articles"), total_line(browser)
    [chip] = chips(browser)
    assert LAVROV in chip.text
    assert title in hit_titles(browser), "the article we came from is among the filtered results"


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><img src=x onerror=alert(document.domain)>',  # unbalanced quote: the error page echoes it too
    ],
)
def test_hostile_query_text_is_echoed_as_text_and_never_runs(browser: WebDriver, base_url: str, hostile: str) -> None:
    open_home(browser, base_url)
    search_for(browser, hostile)

    assert_no_alert(browser)
    assert browser.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == hostile
    if browser.find_elements(By.CSS_SELECTOR, ".summary .total q"):
        assert browser.find_element(By.CSS_SELECTOR, ".summary .total q").text == hostile
    # The markup became text, not elements: no script, no image, no handler.
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.CSS_SELECTOR, "img, [onerror]") == []
    source = browser.page_source
    assert "<script>alert(1)</script>" not in source
    assert "<img src" not in source


def test_a_malformed_query_shows_the_error_page_with_a_hint(browser: WebDriver, base_url: str) -> None:
    open_home(browser, base_url)
    search_for(browser, '"unclosed')

    error = browser.find_element(By.CSS_SELECTOR, "section.error[role=alert]")
    assert error.find_element(By.TAG_NAME, "h1").text == "Your search could not be run"
    assert "phrase is not closed" in error.find_element(By.CSS_SELECTOR, ".message").text
    assert error.find_element(By.CSS_SELECTOR, ".hint").text.startswith("Hint: ")
    assert "Search syntax" in error.text
    # The search box keeps the query, so it can be fixed in place.
    assert browser.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == '"unclosed'
    assert "Traceback" not in browser.page_source
    # The same URL answers 400 Bad Request (Selenium cannot see status codes).
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(browser.current_url, timeout=WAIT)
    assert answer.value.code == 400


def test_search_and_facets_work_without_javascript(browser_without_js: WebDriver, base_url: str) -> None:
    driver = browser_without_js
    # First make sure JavaScript really is off in this browser.
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off"

    open_home(driver, base_url)
    search_for(driver, "Kosovo")
    assert total_line(driver).startswith("5 articles"), total_line(driver)
    assert len(hit_titles(driver)) == 5

    follow(driver, facet_link(driver, "actor", LAVROV))
    assert len(hit_titles(driver)) == 4
    [chip] = chips(driver)
    follow(driver, chip)
    assert len(hit_titles(driver)) == 5


def test_screenshot_of_the_results_page(browser: WebDriver, base_url: str, tmp_path: Path) -> None:
    open_home(browser, base_url)
    search_for(browser, "Kosovo")
    shot = tmp_path / "results.png"

    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    try:  # a copy for humans to look at; not part of what is tested
        shutil.copyfile(shot, SCREENSHOT_COPY)
    except OSError:
        pass


def test_log_in_save_a_search_and_find_it_on_the_saved_page(
    browser: WebDriver, base_url: str, live_settings: Settings
) -> None:
    add_user(live_settings, "reader@example.org", "correct horse battery")
    log_in(browser, base_url, "reader@example.org")
    try:
        search_for(browser, "Kosovo")

        box = browser.find_element(By.CSS_SELECTOR, "details.save-search")
        box.find_element(By.TAG_NAME, "summary").click()  # opens without JavaScript: <details>
        name = box.find_element(By.ID, "name")
        assert name.get_attribute("value") == "Kosovo", "named after the query by default"
        name.clear()
        name.send_keys("Kosovo watch")
        Select(box.find_element(By.ID, "frequency")).select_by_value("daily")
        follow(browser, box.find_element(By.CSS_SELECTOR, "button[type=submit]"))

        assert browser.current_url == base_url + "/saved"
        [row] = browser.find_elements(By.CSS_SELECTOR, "li.saved-search")
        assert row.find_element(By.CSS_SELECTOR, "h2").text == "Kosovo watch"
        assert "daily at 08:00" in row.find_element(By.CSS_SELECTOR, ".alert").text
        assert "/feeds/" in row.find_element(By.CSS_SELECTOR, ".feed a").get_attribute("href")
        follow(browser, row.find_element(By.CSS_SELECTOR, "h2 a"))
        assert total_line(browser).startswith("5 articles"), total_line(browser)
    finally:  # the browser is shared by the module: leave it logged out
        log_out(browser, base_url)


# --- keyboard ---------------------------------------------------------------


def test_the_first_tab_stop_skips_to_the_results(browser: WebDriver, base_url: str) -> None:
    open_page(browser, base_url + "/?q=Kosovo")
    skip = tab(browser)
    assert skip.text == "Skip to results"
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", skip)
    assert skip.is_displayed() and top >= 0, "the skip link shows itself when it has the focus"

    skip.send_keys(Keys.ENTER)
    first_result = browser.find_element(By.CSS_SELECTOR, "ol.hits li.hit h3 a")
    stops = [tab(browser)]
    while stops[-1] != first_result and len(stops) < 30:
        stops.append(tab(browser))
    # Past the sort link and "Log in to save this search", not past 25 filter links and the header.
    assert len(stops) <= 3, [s.text for s in stops]


def test_the_cursor_starts_where_the_reader_types(browser: WebDriver, base_url: str) -> None:
    open_page(browser, base_url + "/")
    assert browser.switch_to.active_element.get_attribute("name") == "q", "the home page: the search box"
    open_page(browser, base_url + "/login")
    assert browser.switch_to.active_element.get_attribute("id") == "email", "the log-in page: the e-mail field"


# --- layout -----------------------------------------------------------------

_BOXES = """
return [...document.querySelectorAll(arguments[0])].filter(e => e.getClientRects().length).map(e => {
  const r = e.getBoundingClientRect();
  return {what: e.outerHTML.slice(0, 70), left: r.left, top: r.top, right: r.right, bottom: r.bottom};
});
"""


def boxes(driver: WebDriver, css: str) -> list[dict[str, Any]]:
    """The page rectangles (CSS pixels, relative to the viewport) of the rendered elements matching ``css``."""
    found: list[dict[str, Any]] = driver.execute_script(_BOXES, css)
    return found


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes sharing more than a hairline of area."""
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            across = min(a["right"], b["right"]) - max(a["left"], b["left"])
            down = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if across > 0.5 and down > 0.5:
                pairs.append((a["what"], b["what"]))
    return pairs


def assert_header_fits(driver: WebDriver) -> None:
    """No two controls of the header overlap, none leaves the screen, nothing scrolls sideways."""
    width = driver.execute_script("return document.documentElement.clientWidth")  # without a scroll bar
    controls = boxes(driver, "header a, header button, header input:not([type=hidden])")
    assert len(controls) >= 4, controls
    assert overlapping(controls) == []
    assert all(c["left"] >= 0 and c["right"] <= width + 0.5 for c in controls), controls
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width, "no sideways scrolling"


def assert_header_fits_a_phone(driver: WebDriver) -> None:
    assert driver.execute_script("return window.innerWidth") == PHONE["width"]
    box = driver.find_element(By.CSS_SELECTOR, "input[name=q]")
    assert box.size["width"] >= 200, f"the search box is {box.size['width']} px wide"
    assert_header_fits(driver)


def test_on_a_phone_the_header_fits_and_the_filters_come_first(
    phone: WebDriver, base_url: str, live_settings: Settings, tmp_path: Path
) -> None:
    open_page(phone, base_url + "/?q=Kosovo")
    assert_header_fits_a_phone(phone)

    # The filters: closed at the top, so the first result shows too; opened without JavaScript.
    filters = phone.find_element(By.CSS_SELECTOR, "details.filters")
    summary = filters.find_element(By.TAG_NAME, "summary")
    [summary_box] = boxes(phone, "details.filters > summary")
    assert summary.is_displayed() and summary_box["bottom"] <= PHONE["height"], summary_box
    [first_result] = boxes(phone, "ol.hits li.hit:first-child h3")
    assert first_result["top"] < PHONE["height"], first_result
    assert not shown(phone, facet_link(phone, "actor", LAVROV))
    click(phone, summary)
    assert filters.get_attribute("open") is not None
    follow(phone, facet_link(phone, "actor", LAVROV))
    assert len(hit_titles(phone)) == 4
    assert "1 active" in phone.find_element(By.CSS_SELECTOR, "details.filters > summary").text

    shot = tmp_path / "phone.png"
    assert phone.save_screenshot(str(shot))
    try:  # a copy for humans to look at; not part of what is tested
        shutil.copyfile(shot, PHONE_SCREENSHOT_COPY)
    except OSError:
        pass

    # Logged in, the header holds the most: Sources, Saved searches, Account, Log out.
    add_user(live_settings, "phone@example.org", "correct horse battery")
    log_in(phone, base_url, "phone@example.org")
    try:
        open_page(phone, base_url + "/?q=Kosovo")
        assert_header_fits_a_phone(phone)
    finally:
        log_out(phone, base_url)


def test_on_a_desktop_the_filters_are_open_beside_the_results(browser: WebDriver, base_url: str) -> None:
    open_page(browser, base_url + "/?q=Kosovo")
    assert not shown(browser, browser.find_element(By.CSS_SELECTOR, "details.filters > summary"))
    assert shown(browser, facet_link(browser, "actor", LAVROV))
    [facets] = boxes(browser, "aside.facets")
    [results] = boxes(browser, "section.results")
    assert facets["right"] <= results["left"] and facets["top"] < 150, (facets, results)


@pytest.mark.parametrize("width", [320, 390, 600, 800, 1024, 1280])
def test_the_header_fits_from_small_phones_to_desktops(browser: WebDriver, base_url: str, width: int) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 761})
    try:
        open_page(browser, base_url + "/?q=Kosovo")
        assert_header_fits(browser)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# --- the date filter: presets without JavaScript ------------------------------------------------

#: Titles of an instance's articles, by how long before the server started each was published (None: undated).
AGES = {"Talks resume in Brussels": dt.timedelta(hours=2), "Envoys meet in Belgrade": dt.timedelta(days=3),
        "Energy deal signed": dt.timedelta(days=20), "Licence plates dispute": dt.timedelta(days=200),
        "An old statement": dt.timedelta(days=3 * 365), "Undated wire note": None, "Undated commentary": None}


@pytest.fixture(scope="module")
def dated_base_url(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Iterator[str]:
    """A live server over articles published hours, days, months and years ago, and two undated."""
    settings = Settings(index=tmp_path_factory.mktemp("browser-dated"))
    now = dt.datetime.now(dt.UTC)
    write_articles([enrich(Article(id=f"b{n:04d}", title=title, text=f"{title}: Serbia and Kosovo, the talks go on.",
                                   origin=f"test:{n}", outlet="Tanjug", published=now - age if age else None,
                                   published_source="meta" if age else None), gazetteer, 0)
                    for n, (title, age) in enumerate(AGES.items())], settings)
    with served(create_app({"NEWSDESK_SETTINGS": settings})) as url:
        yield url


def test_picking_a_date_preset_narrows_the_results_to_its_period(browser_without_js: WebDriver,
                                                                 dated_base_url: str) -> None:
    driver = browser_without_js
    open_page(driver, dated_base_url + "/")
    assert total_line(driver).startswith("7 articles") and not driver.find_elements(By.CSS_SELECTOR, "p.undated")

    follow(driver, driver.find_element(By.CSS_SELECTOR, "a[data-range=week]"))
    assert sorted(hit_titles(driver)) == ["Envoys meet in Belgrade", "Talks resume in Brussels"]
    assert total_line(driver).startswith("2 articles")
    assert [chip.text for chip in chips(driver)] == ["Published: past week ×"]
    assert driver.find_element(By.CSS_SELECTOR, "p.undated").text.startswith("2 undated articles not shown")
    assert driver.find_element(By.CSS_SELECTOR, ".presets strong[aria-current]").text == "Past week"

    follow(driver, driver.find_element(By.CSS_SELECTOR, "a[data-range=year]"))
    assert sorted(hit_titles(driver)) == ["Energy deal signed", "Envoys meet in Belgrade", "Licence plates dispute",
                                          "Talks resume in Brussels"]

    follow(driver, driver.find_element(By.LINK_TEXT, "list them"))
    assert sorted(hit_titles(driver)) == ["Undated commentary", "Undated wire note"]

    follow(driver, driver.find_element(By.CSS_SELECTOR, "a[data-range=all]"))
    assert total_line(driver).startswith("7 articles") and not chips(driver)


def test_clicking_a_bar_of_the_timeline_narrows_the_results_to_its_bucket(browser_without_js: WebDriver,
                                                                         dated_base_url: str) -> None:
    driver = browser_without_js
    open_page(driver, dated_base_url + "/?interval=year")
    bars = driver.find_elements(By.CSS_SELECTOR, "#timeline svg a")
    assert bars, "a bar per year with articles"
    bar = bars[-1]  # the latest year: this year's articles
    label = bar.get_attribute("aria-label") or ""
    year, count = label.split(": ")[0], int(label.split(": ")[1].split()[0])
    follow(driver, bar)
    assert f"from={year}-01-01" in driver.current_url and f"to={year}-12-31" in driver.current_url
    assert total_line(driver).startswith(f"{count} article")
    assert driver.find_element(By.CSS_SELECTOR, "p.undated").text.startswith("2 undated articles not shown")


# --- compare: searches side by side ------------------------------------------------------------


def api(base_url: str, path: str, **params: str) -> Any:
    """The JSON the API answers for ``params``: the oracle the compare page is checked against."""
    with urllib.request.urlopen(f"{base_url}{path}?{urllib.parse.urlencode(params)}", timeout=WAIT) as answer:
        return json.load(answer)


def compared(driver: WebDriver) -> dict[str, tuple[int, int]]:
    """The compare page's table: each search's label, its articles and its undated articles."""
    found = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "table.compared-totals tbody tr"):
        articles, undated = (int(cell.text.replace(",", "")) for cell in row.find_elements(By.TAG_NAME, "td")[:2])
        found[row.find_element(By.TAG_NAME, "th").text] = (articles, undated)
    return found


def chart_series(driver: WebDriver) -> dict[str, dict[str, int]]:
    """The chart: each panel's ``<title>``, and its bars as {first day of the bar's bucket: its count}."""
    found = {}
    for svg in driver.find_elements(By.CSS_SELECTOR, "#timeline svg"):
        title = svg.find_element(By.CSS_SELECTOR, ":scope > title")
        assert svg.get_attribute("aria-labelledby") == title.get_attribute("id"), "the panel is named by its title"
        bars = {}
        for bar in svg.find_elements(By.TAG_NAME, "a"):
            start = urllib.parse.parse_qs(urllib.parse.urlsplit(bar.get_dom_attribute("href") or "").query)["from"][0]
            bars[start] = int((bar.get_attribute("aria-label") or "").split(": ")[1].split()[0].replace(",", ""))
        found[_text_content(title)] = bars
    return found


def compare_searches(driver: WebDriver, *queries: str) -> None:
    """Type ``queries`` into the compare form's first boxes, the rest emptied, and press Compare."""
    boxes = driver.find_elements(By.CSS_SELECTOR, "form.compare-form input[name=q]")
    assert len(boxes) == 5, "five searches at most, a box for each"
    for box, text in zip(boxes, [*queries, *[""] * (len(boxes) - len(queries))], strict=True):
        box.clear()
        box.send_keys(text)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.compare-form button[type=submit]"))


def download(driver: WebDriver, link: WebElement, folder: Path) -> Path:
    """Click a download link as a reader does, and wait for the file to arrive in ``folder``."""
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    click(driver, link)
    WebDriverWait(driver, WAIT).until(
        lambda d: any(not p.name.endswith(".crdownload") for p in folder.iterdir()))
    [path] = [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]
    return path


def test_comparing_two_searches_counts_each_as_the_api_does_and_the_url_shares_it(
    browser: WebDriver, browser_without_js: WebDriver, base_url: str
) -> None:
    queries = ("Kosovo", "Lavrov")
    oracle = {q: api(base_url, "/api/search", q=q)["total"] for q in queries}
    undated = {q: api(base_url, "/api/timeline", q=q)["undated"] for q in queries}
    assert oracle == {"Kosovo": 5, "Lavrov": 4}, "the seed corpus, as the first test of this module counts it"

    open_page(browser, base_url + "/compare")
    assert compared(browser) == {} and not browser.find_elements(By.ID, "timeline"), "nothing compared yet"
    compare_searches(browser, *queries)

    assert compared(browser) == {q: (oracle[q], undated[q]) for q in queries}
    interval = browser.find_element(By.CSS_SELECTOR, "#timeline .interval").text.strip("()").removeprefix("per ")
    expected = {}
    for q in queries:
        timeline = api(base_url, "/api/timeline", q=q, interval=interval)
        bars = {bucket["start"]: bucket["count"] for bucket in timeline["buckets"] if bucket["count"]}
        assert sum(bars.values()) + undated[q] == oracle[q]
        expected[f"{q} ({oracle[q] - undated[q]:,} matching)"] = bars
    assert chart_series(browser) == expected, "one panel per search, in the order asked, each bar as the API counts"

    # The URL is the comparison: opened in another browser, it shows the same.
    shared = browser.current_url
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(shared).query)["q"] == list(queries)
    open_page(browser_without_js, shared)
    assert compared(browser_without_js) == compared(browser)
    assert chart_series(browser_without_js) == expected
    assert [box.get_attribute("value") for box in browser_without_js.find_elements(
        By.CSS_SELECTOR, "form.compare-form input[name=q]")] == [*queries, "", "", ""], "the form keeps them"


def test_the_compare_tables_csv_downloads_with_the_pages_numbers(browser: WebDriver, base_url: str,
                                                                 tmp_path: Path) -> None:
    open_page(browser, base_url + "/compare")
    compare_searches(browser, "Kosovo", "Lavrov")
    table, series = compared(browser), chart_series(browser)

    path = download(browser, browser.find_element(By.LINK_TEXT, "Download the table (CSV)"), tmp_path)
    assert path.name == "newsdesk-compare.csv"
    header, *rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
    assert header == ["start", "end", "Kosovo", "Lavrov"]
    by_start = {row[0]: row for row in rows}
    assert [int(n) for n in by_start["total"][2:]] == [table["Kosovo"][0], table["Lavrov"][0]] == [5, 4]
    assert [int(n) for n in by_start["undated"][2:]] == [table["Kosovo"][1], table["Lavrov"][1]]
    buckets = [row for row in rows if row[0] not in ("total", "undated")]
    for n, bars in enumerate(series.values()):
        assert {row[0]: int(row[2 + n]) for row in buckets if int(row[2 + n])} == bars
        assert sum(int(row[2 + n]) for row in buckets) + int(by_start["undated"][2 + n]) == \
            int(by_start["total"][2 + n])


def test_comparing_again_keeps_one_search_across_outlets(browser_without_js: WebDriver, base_url: str) -> None:
    driver = browser_without_js
    outlets = ("RksNews", "Sputnik International")
    expected = {f"Kosovo in {outlet}": api(base_url, "/api/search", q="Kosovo", outlet=outlet)["total"]
                for outlet in outlets}
    assert sum(expected.values()) == 2, "one Kosovo article in each"

    open_page(driver, base_url + "/compare?" + urllib.parse.urlencode([("q", "Kosovo")] +
                                                                        [("outlet", o) for o in outlets]))
    assert {label: total for label, (total, _) in compared(driver).items()} == expected

    # The form sends all five boxes, four of them empty: still one search, in each outlet.
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.compare-form button[type=submit]"))
    assert {label: total for label, (total, _) in compared(driver).items()} == expected


def test_a_compared_search_opens_its_results_under_the_same_date_filter(browser_without_js: WebDriver,
                                                                        base_url: str) -> None:
    driver = browser_without_js
    dates = {"from": "2018-01-01", "to": "2018-12-31"}
    in_2018 = api(base_url, "/api/search", q="Kosovo", **dates)["total"]
    assert in_2018 < api(base_url, "/api/search", q="Kosovo")["total"], "the date filter leaves some out"

    open_page(driver, base_url + "/?" + urllib.parse.urlencode({"q": "Kosovo", **dates}))
    follow(driver, driver.find_element(By.LINK_TEXT, "compare with other searches"))
    compare_searches(driver, "Kosovo", "Lavrov")
    assert compared(driver)["Kosovo"][0] == in_2018, "compared under the results page's date filter"

    follow(driver, driver.find_element(By.CSS_SELECTOR, "table.compared-totals").find_element(By.LINK_TEXT, "Kosovo"))
    assert total_line(driver).startswith(f"{in_2018} article"), total_line(driver)
