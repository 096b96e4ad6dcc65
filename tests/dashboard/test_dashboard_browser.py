"""Headless Chromium against the real stack: mosquitto + `maskwatch dashboard ingest` + `maskwatch dashboard
serve` (waitress). Logs in, watches a camera's live image change, sees a violation published over MQTT
appear, sees the statistics charts render, and checks the phone layout. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from dashboard_support import event, jpeg, raw, stats, status, topic
from helpers.browser import ARTIFACTS, PASSWORD, wait_for_text
from helpers.net import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def wait_js(page, expr: str, timeout: float = 15, what: str = "") -> None:
    """Poll a JS expression from Python: the page's CSP (no 'unsafe-eval') blocks wait_for_function."""
    wait_for(lambda: page.evaluate(expr), timeout, interval=0.2, what=what or expr)


def mean_bgr(png: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    return img[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, 3).mean(axis=0)


def seed(send) -> None:
    now = datetime.now(UTC)
    send(topic("status"), raw(status()), retain=True)
    send(topic("status", camera="lobby"), raw(status(camera="lobby", state="offline", reason="no frames for 6 s")),
         retain=True)
    send(topic("available"), b"online", retain=True)
    for h in range(48):  # two days of stats for the charts
        t = (now - timedelta(hours=h)).isoformat()
        wm = 20 + (h * 7) % 15
        send(topic("stats"), raw(stats(time=t, people={"with_mask": wm, "without_mask": 3 + h % 5,
                                                       "mask_incorrect": h % 3})))
        send(topic("stats", camera="lobby"), raw(stats(camera="lobby", time=t, people={"with_mask": 12,
                                                                                       "without_mask": h % 4})))
    for i in range(12):
        send(topic("event"), raw(event(f"seed{i}", time=(now - timedelta(minutes=5 * i + 1)).isoformat(),
                                       verdict=("without_mask", "mask_incorrect")[i % 4 == 0])))
    send(topic("preview", camera="lobby"), jpeg((90, 90, 90), (480, 270), "lobby"))


def test_browser_end_to_end(stack):
    url, send = stack["url"], stack["send"]
    seed(send)
    red, green = jpeg((30, 30, 220), (480, 270), "frame A"), jpeg((40, 200, 40), (480, 270), "frame B")
    send(topic("preview"), red)
    ctx = stack["browser"].new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    # login
    page.goto(url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    wait_for_text(page, "hq/door")
    # every tile's first preview: 30 s, as it waits on the publisher, the ingest and the page's polling at once
    # (timed out at 15 s once in a CI run while other tests loaded the 2 cores; 17 s for the whole test alone)
    wait_js(page, "() => document.querySelector('img.live-tile') !== null && "
                  "[...document.querySelectorAll('img.live-tile')].every(i => i.naturalWidth > 0)", timeout=30)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # camera page: the live image changes when a new preview frame is published
    page.click("text=hq/door")
    page.wait_for_selector("#live")
    wait_js(page, "() => document.getElementById('live').naturalWidth > 0")
    live = page.locator("#live")
    wait_for(lambda: mean_bgr(live.screenshot())[2] > 150, 15, interval=0.3, what="the red frame A")
    send(topic("preview"), green)
    wait_for(lambda: mean_bgr(live.screenshot())[1] > 150, 15, interval=0.3, what="the live image to turn green")
    page.screenshot(path=str(ARTIFACTS / "camera-live.png"), full_page=True)

    # a violation published over MQTT appears on the open page (the list polls the API)
    send(topic("snapshot", event_id="live-violation"), jpeg((20, 20, 160), (640, 480), "violation"))
    send(topic("event"), raw(event("live-violation", box=[200, 120, 360, 300])))
    item = page.wait_for_selector("#recent-violations li[data-event-id='live-violation']", timeout=20_000)
    assert "no mask" in item.inner_text()
    page.screenshot(path=str(ARTIFACTS / "camera-violation.png"), full_page=True)

    # the snapshot viewer, with the face box drawn over the image
    item.query_selector("a").click()
    page.wait_for_selector(".snapshot .box")
    wait_js(page, "() => document.querySelector('.snapshot img').naturalWidth === 640")
    page.screenshot(path=str(ARTIFACTS / "event.png"), full_page=True)

    # violations list with filter
    page.goto(url + "/violations?verdict=mask_incorrect")
    assert "3 found" in page.inner_text("h1")

    # statistics: the charts render (Chart.js instances with data, pixels drawn on the canvas)
    page.goto(url + "/statistics?days=7&bucket=hour")
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15_000)
    n_points = page.evaluate("Chart.getChart(document.getElementById('chart-compliance')).data.datasets"
                             ".map(d => d.data.filter(v => v !== null).length)")
    assert len(n_points) == 3 and min(n_points) >= 40  # site line + two cameras, 48 hourly points each
    drawn = page.evaluate("""() => {
        const c = document.getElementById('chart-hours');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let colored = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i + 2] > d[i] + 60) colored++;
        return colored; }""")
    assert drawn > 500  # blue bars were drawn
    page.screenshot(path=str(ARTIFACTS / "statistics.png"), full_page=True)
    assert not errors, errors  # no script errors, no failed requests (CSP would show here too)
    ctx.close()

    # phone: nothing wider than the screen
    phone = stack["browser"].new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                         is_mobile=True, has_touch=True)
    p2 = phone.new_page()
    p2.goto(url + "/login")
    p2.fill("input[name=username]", "manager")
    p2.fill("input[name=password]", PASSWORD)
    p2.click("button[type=submit]")
    p2.wait_for_url(url + "/")
    for path, name in (("/", "phone-overview.png"), ("/violations", "phone-violations.png"),
                       ("/statistics", "phone-statistics.png")):
        p2.goto(url + path)
        if path == "/statistics":
            p2.wait_for_selector("body[data-charts-ready='1']")
        assert p2.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        p2.screenshot(path=str(ARTIFACTS / name), full_page=True)
    phone.close()


def _colour_under_box(page) -> np.ndarray:  # noqa: ANN001
    """BGR colour of the snapshot at the centre of the drawn face box (the box itself is only a border)."""
    rect = page.evaluate("""() => {
        const s = document.querySelector('.snapshot').getBoundingClientRect();
        const b = document.querySelector('.snapshot .box').getBoundingClientRect();
        return [b.left - s.left + b.width / 2, b.top - s.top + b.height / 2, b.width, b.height]; }""")
    shot = page.locator(".snapshot").screenshot()
    img = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    x, y = int(rect[0]), int(rect[1])
    return img[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].reshape(-1, 3).mean(axis=0)


def test_event_page_box_lies_on_a_small_face_in_a_large_frame_and_a_better_snapshot_replaces_it(stack):
    """A 48 px face in a 1920x1080 frame, snapshot cropped by the agent's own code: the face box drawn on the
    event page must lie on the face (it used to be placed as a fraction of the whole frame). Then the agent's
    revision 1 (a bigger face elsewhere) replaces the snapshot, and a replayed revision 0 does not undo it."""
    from edge_agent.bestshot import keep
    from edge_agent.config import SnapshotConfig
    from edge_agent.core.evidence import Shot

    url, send = stack["url"], stack["send"]
    frame = np.full((1080, 1920, 3), 128, np.uint8)
    small, big = (1500, 700, 1548, 748), (1300, 500, 1396, 596)
    frame[small[1]:small[3], small[0]:small[2]] = (40, 200, 40)  # green: the first face
    frame2 = np.full((1080, 1920, 3), 128, np.uint8)
    frame2[big[1]:big[3], big[0]:big[2]] = (200, 60, 40)  # blue: the better face
    k0 = keep(frame, Shot(small, 0.0, 0.9, 48 * 48, 1.0, False), [])
    k1 = keep(frame2, Shot(big, 1.0, 0.9, 96 * 96, 1.0, False), [])
    snap0, snap1 = k0.jpeg(SnapshotConfig(), "without_mask"), k1.jpeg(SnapshotConfig(), "without_mask")
    ev0 = event("small-face", box=list(small), frame_size=[1920, 1080], snapshot_region=list(k0.region))
    ev1 = {**ev0, "revision": 1, "box": list(big), "snapshot_region": list(k1.region)}
    send(topic("snapshot", event_id="small-face"), snap0)
    send(topic("event"), raw(ev0))
    # an older agent's event (no snapshot_region): the page derives the region with the agent's rule
    send(topic("snapshot", event_id="old-agent"), snap0)
    send(topic("event"), raw(event("old-agent", box=list(small), frame_size=[1920, 1080])))

    ctx = stack["browser"].new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(url + "/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")

    def open_event(eid: str, width: int) -> None:
        """(Re)load the event page until its snapshot is the one ``width`` px wide (ingest is asynchronous)."""
        def shown() -> bool:
            if page.goto(url + f"/events/{eid}").status != 200 or not page.query_selector(".snapshot img"):
                return False
            page.wait_for_load_state("load")  # images loaded
            return page.evaluate(f"() => document.querySelector('.snapshot img').naturalWidth === {width}")
        wait_for(shown, 20, interval=0.5, what=f"event {eid} with its {width} px snapshot")
        page.wait_for_selector(".snapshot .box")

    for eid in ("small-face", "old-agent"):
        open_event(eid, k0.crop.shape[1])
        b, g, r = _colour_under_box(page)
        assert g > 150 and b < 100 and r < 100, f"{eid}: the box is not on the face (colour {b, g, r})"
    page.screenshot(path=str(ARTIFACTS / "event-small-face.png"), full_page=True)

    send(topic("snapshot", event_id="small-face") + "/1", snap1)
    send(topic("event"), raw(ev1))
    open_event("small-face", k1.crop.shape[1])
    b, g, r = _colour_under_box(page)
    assert b > 150 and g < 100, f"revision 1: the box is not on the better face (colour {b, g, r})"
    send(topic("snapshot", event_id="small-face"), snap0)  # a replayed revision 0 changes nothing
    send(topic("event"), raw(ev0))
    send(topic("stats"), raw(stats()))  # a later message: once it is stored, the replay was processed
    page.wait_for_timeout(2000)
    open_event("small-face", k1.crop.shape[1])
    b, g, r = _colour_under_box(page)
    assert b > 150 and g < 100, f"after the replay of revision 0 (colour {b, g, r})"
    assert "1300, 500, 1396, 596" in page.inner_text(".details")
    page.screenshot(path=str(ARTIFACTS / "event-revised.png"), full_page=True)
    ctx.close()


def test_live_view_follows_a_5_fps_preview(stack):
    """The camera page polls live.jpg (If-None-Match, adaptive rate up to 8 fps): with previews arriving over
    MQTT at 5 fps it shows (nearly) every frame the ingest stored, without a server thread held per viewer."""
    import threading
    import time

    from dashboard.previews import PreviewStore, default_preview_dir

    url, send = stack["url"], stack["send"]
    send(topic("status"), raw(status()), retain=True)
    send(topic("preview"), jpeg((30, 30, 220), (480, 270), "first"))
    page = stack["browser"].new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url + "/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    page.goto(url + "/cameras/1")

    def first_preview_shown() -> bool:
        # previews are not retained: the first one may have come before the ingest subscribed, so send until
        # shown; and the page draws its live image only if a preview was stored when it loaded ("reload to
        # check again", as it says): CI once loaded it before the ingest had stored one, and it never showed
        send(topic("preview"), jpeg((30, 30, 220), (480, 270), "first"))
        if page.evaluate("() => document.getElementById('live') === null"):
            page.reload()
        return bool(page.evaluate(
            "() => document.getElementById('live') !== null && document.getElementById('live').naturalWidth > 0"))

    wait_for(first_preview_shown, 30, interval=0.5, what="the first preview on the camera page")
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/live.jpg" in r.url else None)
    page.evaluate("() => { window.mwFrames = 0; document.getElementById('live')"
                  ".addEventListener('load', () => { window.mwFrames += 1; }); }")
    # the frames the dashboard had: the ingest keeps only the newest of a batch, so under load it stores fewer
    store, stored, stop = PreviewStore(default_preview_dir(stack["tmp"] / "snaps")), set(), threading.Event()

    def watch() -> None:
        while not stop.is_set():
            stored.add(store.version("hq", "door"))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    sent, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < 6.0:
            sent += 1
            send(topic("preview"), jpeg((20 * sent % 255, 200, 40), (480, 270), f"frame {sent}"))
            time.sleep(max(0.0, t0 + sent * 0.2 - time.monotonic()))
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    shown, new = page.evaluate("() => window.mwFrames"), len(stored - {None}) - 1  # minus the frame on screen
    print(f"live view: {sent} previews sent at 5 fps, {new} stored by the ingest, {shown} shown in 6 s "
          f"({shown / 6:.1f} fps; {len(polls)} polls: {polls.count(200)} x 200, {polls.count(304)} x 304; "
          "machine shared)")
    # how many the ingest stores depends on the machine's load (it keeps the newest preview of each batch: 30 of
    # 30 alone, 5-18 inside the full suite here), so the rate is printed, not asserted; what must hold is that
    # the view follows several new frames and shows (nearly) all that were stored
    assert new >= 3, f"the ingest stored only {new} of {sent} frames"
    assert shown >= 0.8 * new, f"only {shown} of the {new} stored frames shown"
