"""Headless Chromium for the browser tests (playwright driving Debian's chromium) and where they leave
screenshots and logs."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from dashboard_support import REPO

from . import mosquitto as mq

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser test password"


def playwright():  # type: ignore[no-untyped-def]
    """playwright's sync_playwright, or a skip naming what is missing (playwright, chromium, mosquitto)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium not installed (apt-get install chromium)")
    if not mq.available():
        pytest.skip("mosquitto not installed")
    return sync_playwright


def wait_for_text(page, text: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
    """Reload ``page`` until ``text`` is on it, as a user would: the overview is rendered once per load, so a
    camera the ingest stores after the page loaded shows only on the next load (in a loaded CI run the login
    came before the ingest had stored it, and a plain wait for the text never ended)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout
    while True:
        try:
            page.wait_for_selector(f"text={text}", timeout=3_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            page.reload()
