"""Headless Chromium against the real stack (the fixture of test_dashboard_browser.py: mosquitto, `maskwatch
dashboard ingest` and `serve`): an admin creates a viewer for one site on the Users page; that viewer, on a
phone, sees only that site and no admin page; the language switch and the browser's language; dark mode from
the system and from the toggle; the weekly report's CSV download. Screenshots of each page in English and
Indonesian go to test-artifacts/dashboard/i18n/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_support import event, raw, status, topic
from helpers.browser import ARTIFACTS, PASSWORD, wait_for_text

from tests.dashboard.test_dashboard_browser import seed, wait_js

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHOTS = ARTIFACTS / "i18n"
PAGES = {"overview": "/", "violations": "/violations", "statistics": "/statistics?days=7",
         "weekly": "/reports/weekly?site=hq", "users": "/admin/users", "audit": "/admin/audit", "privacy": "/privacy/",
         "access-log": "/privacy/access-log", "erase": "/privacy/erase"}


def log_in(page, url: str, name: str, password: str) -> None:  # noqa: ANN001
    page.goto(url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(url + "/")


def background(page) -> tuple[int, ...]:  # noqa: ANN001
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(v) for v in re.findall(r"\d+", rgb)[:3])


def test_team_dashboard_in_chromium(stack):  # noqa: F811
    url, send = stack["url"], stack["send"]
    seed(send)
    send(topic("status", camera="gate", site="branch"), raw(status(camera="gate", site="branch")), retain=True)
    send(topic("event", camera="gate", site="branch"), raw(event("branch-1", camera="gate", site="branch")))
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    ctx = stack["browser"].new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                       color_scheme="light", accept_downloads=True)
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, url, "manager", PASSWORD)
    wait_for_text(page, "branch/gate")

    # the admin creates a viewer of site "branch" on the Users page; the password is shown once
    page.goto(url + "/admin/users")
    page.fill("#create-user input[name=name]", "vera")
    page.select_option("#create-user select[name=role]", "viewer")
    page.fill("#new-extra-sites", "branch")
    page.click("#create-user button[type=submit]")
    flash = page.inner_text(".flash.password")
    vera_password = flash.rsplit(": ", 1)[1].strip()
    assert len(vera_password) >= 10
    page.goto(url + "/admin/audit")
    assert "vera" in page.inner_text("#audit-table") and "user.create" in page.inner_text("#audit-table")

    # screenshots of every page in English, then switch to Indonesian with the menu and take them again
    for lang, check in (("en", "Overview"), ("id", "Ringkasan")):
        if lang == "id":
            page.goto(url + "/")
            page.select_option("#lang-select", "id")
            with page.expect_navigation():
                page.click("#lang-apply")
        for name, path in PAGES.items():
            page.goto(url + path)
            if name == "statistics":
                page.wait_for_selector("body[data-charts-ready='1']", timeout=15_000)
            assert page.evaluate("document.documentElement.lang") == lang, (name, lang)
            assert check in page.inner_text("header nav"), (name, lang)
            page.screenshot(path=str(SHOTS / f"{name}-{lang}.png"), full_page=True)
    page.goto(url + "/statistics?days=7")
    page.wait_for_selector("body[data-charts-ready='1']")
    legend = page.evaluate("Chart.getChart(document.getElementById('chart-verdicts')).data.labels")
    assert legend == ["bermasker", "tanpa masker", "masker dipakai tidak benar"], "chart text from the catalogue"
    page.goto(url + "/")
    wait_js(page, "() => document.querySelector('#recent-violations li .verdict') !== null")
    assert "tanpa masker" in page.inner_text("#recent-violations") or "masker dipakai tidak benar" in \
        page.inner_text("#recent-violations")

    # dark mode: the toggle switches and is remembered on the next page
    light = background(page)
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.goto(url + "/violations")
    dark = background(page)
    assert sum(dark) < 100 < sum(light), (light, dark)
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    page.screenshot(path=str(SHOTS / "violations-dark-id.png"), full_page=True)

    # the weekly report's CSV download
    page.goto(url + "/reports/weekly?site=hq")
    with page.expect_download() as dl:
        page.click("#weekly-csv")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.startswith("site,timezone,camera,date,people") and "hq,UTC,door," in text
    assert dl.value.suggested_filename.startswith("maskwatch-weekly-hq-")
    ctx.close()

    # the viewer, on a phone, with an Indonesian browser and a dark system theme
    phone = stack["browser"].new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                         locale="id-ID", color_scheme="dark")
    p = phone.new_page()
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(url + "/login")
    assert "Masuk" in p.inner_text("h1"), "the browser's language is the default"
    assert p.evaluate("document.documentElement.dataset.theme") == "dark", "the system's dark theme"
    log_in(p, url, "vera", vera_password)
    wait_for_text(p, "branch/gate")
    assert "hq/door" not in p.inner_text("main"), "a viewer of branch sees no camera of hq"
    assert "Pengguna" not in p.inner_text("header nav"), "no Users page in a viewer's menu"
    assert p.goto(url + "/admin/users").status == 403
    assert phone.request.get(url + "/api/v1/events").text().count("branch-1") == 1  # the page's cookies
    export = phone.request.get(url + "/violations.csv").text()
    assert "branch-1" in export and "seed" not in export, "the CSV export holds only the viewer's site"
    for name, path in (("overview", "/"), ("violations", "/violations"), ("statistics", "/statistics"),
                       ("weekly", "/reports/weekly")):
        p.goto(url + path)
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        p.screenshot(path=str(SHOTS / f"phone-{name}-id.png"), full_page=True)
    phone.close()
    assert not errors, errors
