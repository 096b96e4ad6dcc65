"""Headless Chromium on the real stack (mosquitto, ``maskwatch dashboard ingest`` and ``serve``): the privacy
settings page, a snapshot view that appears in the access log, and an erasure through the form that the
access log then shows. Screenshots go to test-artifacts/dashboard/privacy-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dashboard_support import event, jpeg, raw, topic
from helpers.browser import ARTIFACTS, PASSWORD
from helpers.net import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


def test_privacy_settings_access_log_and_erasure_in_a_browser(stack):  # noqa: F811
    url, send = stack["url"], stack["send"]
    when = datetime.now(UTC) - timedelta(minutes=10)
    send(topic("snapshot", event_id="seen1"), jpeg((20, 20, 160), (640, 480), "violation"))
    send(topic("event"), raw(event("seen1", time=when.isoformat())))
    ctx = stack["browser"].new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # script errors only: the 404s of the event page before it is stored and after its erasure are expected
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.goto(url + "/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")

    # the settings page, from the nav bar
    page.click("header nav >> text=Privacy")
    page.wait_for_selector("#retention")
    text = page.inner_text("#retention")
    assert "Violation snapshots (images)\t7 days" in text and "Violation events" in text and "30 days" in text
    assert "blur_bystanders" in page.inner_text("#privacy-modes")
    page.screenshot(path=str(ARTIFACTS / "privacy-settings.png"), full_page=True)

    # a snapshot view is recorded, with the user and the event
    wait_for(lambda: page.goto(url + "/events/seen1").status == 200, 20, interval=0.5, what="the event stored")
    wait_for(lambda: page.evaluate("document.querySelector('.snapshot img') && "
                                   "document.querySelector('.snapshot img').naturalWidth === 640"), 15, interval=0.2,
             what="the snapshot image")
    page.goto(url + "/privacy/access-log")
    row = page.locator("tr[data-action=snapshot]").first
    assert row.locator(".user").inner_text() == "manager" and row.locator(".target").inner_text() == "seen1"
    page.screenshot(path=str(ARTIFACTS / "privacy-access-log.png"), full_page=True)

    # erasure through the form: preview, then erase with the confirmation ticked
    page.goto(url + "/privacy/erase")
    page.select_option("select[name=camera]", "hq/door")
    page.fill("input[name=since]", (when - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=until]", (when + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("button[value=preview]")
    assert "would erase 1 events and 1 snapshots" in page.inner_text("#erase-result")
    page.check("input[name=confirm]")
    page.click("button[value=erase]")
    assert "erased 1 events and 1 snapshots" in page.inner_text("#erase-result")
    assert page.goto(url + "/events/seen1").status == 404
    page.goto(url + "/privacy/access-log")
    assert "erased 1 events and 1 snapshots of camera hq/door" in page.inner_text("tr[data-action=erase]")
    page.screenshot(path=str(ARTIFACTS / "privacy-erased.png"), full_page=True)
    assert not errors, errors
    ctx.close()
