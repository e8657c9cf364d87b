"""Headless Chromium for the tests that look at pages as a browser does (test_browser, test_html_standards),
and ``served``: the app behind a real WSGI server (waitress) on a free loopback port, for it to load.

Debian's Chromium and ChromeDriver, started with an explicit driver path so
Selenium Manager never runs and nothing is downloaded; ``make test`` installs
both (its ``browser`` target). ``MISSING`` says why the tests that need them
skip on a machine without them.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import waitress
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 10  # seconds; a safety net, never a pause

MISSING = (
    None
    if CHROMIUM.is_file() and CHROMEDRIVER.is_file()
    else f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver, or `make browser`)"
)


def start_chromium(javascript: bool = True, size: tuple[int, int] = (1280, 1000)) -> tuple[WebDriver, Path]:
    """A headless Chromium with a profile of its own (the caller removes it after ``quit()``)."""
    profile = Path(tempfile.mkdtemp(prefix="newsdesk-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={size[0]},{size[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    # Leave any alert open, so a test can look for it instead of Selenium
    # dismissing it behind our back.
    options.unhandled_prompt_behavior = "ignore"
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver, profile


@contextmanager
def served(app: Any, threads: int = 4) -> Iterator[str]:
    """``app`` served by waitress on a free port of 127.0.0.1, in a daemon thread: its base URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)
