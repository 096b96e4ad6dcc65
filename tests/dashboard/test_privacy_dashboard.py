"""Access log and erasure on request (docs/privacy.md), through the Flask test client and the real
``maskwatch dashboard erase`` command, on a real SQLite file and snapshot directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dashboard_support import add_user, csrf_from, event, jpeg, login, maskwatch, raw, stats, topic
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard import access_log
from dashboard.erasure import ErasureError, erase
from dashboard.ingest import Ingester, Received
from dashboard.models import AccessLog, Event, HourlyCount, Snapshot

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.engine(app=True)  # the tests read the app's own database


def entries(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as db:
        return [(a.user, a.action, a.target) for a in db.scalars(select(AccessLog).order_by(AccessLog.id))]


# ------------------------------------------------------------------ access log
def test_every_snapshot_view_export_and_live_view_is_logged(client, ingester, engine):
    ingester.process([Received(topic("event"), raw(event("e1"))), Received(topic("snapshot", event_id="e1"), jpeg()),
                      Received(topic("preview"), jpeg())])
    assert entries(engine) == []
    assert client.get("/events/e1").status_code == 200  # the page itself holds no image
    for _ in range(2):
        r = client.get("/snapshots/e1.jpg")
        assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    assert client.get("/violations.csv?verdict=without_mask").status_code == 200
    cam = "/cameras/1"
    assert client.get(f"{cam}/live.jpg").status_code == 200
    # the live view polls live.jpg (issue 18 removed the MJPEG stream): one entry per few minutes
    etag = client.get(f"{cam}/live.jpg").headers["ETag"]
    assert client.get(f"{cam}/live.jpg", headers={"If-None-Match": etag}).status_code == 304
    assert entries(engine) == [("manager", "snapshot", "e1"), ("manager", "snapshot", "e1"),
                               ("manager", "export_csv", "violations.csv?verdict=without_mask"),
                               ("manager", "live", "hq/door")]
    page = client.get("/privacy/access-log").get_data(as_text=True)
    assert page.count('data-action="snapshot"') == 2 and "exported violations (CSV)" in page
    assert client.get("/privacy/access-log?user=nobody").get_data(as_text=True).count("data-action=") == 0


def test_privacy_pages_need_login(app):
    c = app.test_client()
    for path in ("/privacy/", "/privacy/access-log", "/privacy/erase"):
        r = c.get(path)
        assert r.status_code in (302, 401) and "/login" in r.headers.get("Location", "/login"), path


def test_settings_page_shows_modes_and_retention(tmp_path):
    from dashboard.settings import parse_settings

    cfg = parse_settings({"privacy": {"mode": "blur_all"}, "cameras": [
        {"name": "door", "source": {"type": "demo"}, "privacy_mode": "no_images"}],
        "dashboard": {"database_url": f"sqlite:///{tmp_path / 'd.sqlite3'}", "snapshot_dir": str(tmp_path / "s"),
                      "retention": {"snapshots_days": 3}}})
    from dashboard import create_app
    from dashboard.db import upgrade

    app = create_app(cfg, {"TESTING": True})
    upgrade(app.extensions["maskwatch"]["engine"])
    add_user(app)
    c = app.test_client()
    login(c)
    html = c.get("/privacy/").get_data(as_text=True)
    assert "blur_all" in html and "no_images" in html and "3 days" in html and "30 days" in html


# ------------------------------------------------------------------ erasure
def seed(ingester) -> None:
    """door: events at 08:00, 08:30, 09:00, 10:00 (with snapshots), lobby: 08:30; an orphan snapshot."""
    batch = []
    for eid, cam, minutes in (("d0", "door", 0), ("d1", "door", 30), ("d2", "door", 60), ("d3", "door", 120),
                              ("l1", "lobby", 30)):
        batch.append(Received(topic("event", camera=cam), raw(event(eid, camera=cam,
                                                                  time=(T0 + timedelta(minutes=minutes)).isoformat()))))
    batch.append(Received(topic("stats"), raw(stats(time=(T0 + timedelta(minutes=5)).isoformat()))))
    ingester.process(batch)
    from dashboard.messages import classify

    for eid, cam in (("d0", "door"), ("d1", "door"), ("d2", "door"), ("d3", "door"), ("l1", "lobby")):
        ingester.store.write([classify("maskwatch", topic("snapshot", camera=cam, event_id=eid), jpeg())],
                             now=T0 + timedelta(minutes=1))
    ingester.store.write([classify("maskwatch", topic("snapshot", event_id="orphan"), jpeg())],
                         now=T0 + timedelta(minutes=40))


def state(engine, snap_dir):  # noqa: ANN001, ANN201
    with Session(engine) as db:
        events = sorted(db.scalars(select(Event.event_id)))
        snaps = {s.event_id: (snap_dir / s.path).is_file() for s in db.scalars(select(Snapshot))}
        hourly = sorted((h.hour, h.events_without_mask, h.people_with_mask) for h in db.scalars(select(HourlyCount)))
    return events, snaps, hourly


def report_of(engine):  # noqa: ANN001, ANN201
    from dashboard.models import Camera
    from dashboard.statistics import report

    with Session(engine) as db:
        cams = list(db.scalars(select(Camera)))
        return report(db, "UTC", "hour", T0 - timedelta(hours=1), T0 + timedelta(hours=4), cams)


def test_erasure_removes_what_it_says_and_nothing_more(ingester, engine, tmp_path):
    seed(ingester)
    snap_dir = tmp_path / "snapshots"
    events0, snaps0, hourly0 = state(engine, snap_dir)
    report0 = report_of(engine)
    assert report0.events["without_mask"] == 5
    assert len(events0) == 5 and len(snaps0) == 6 and all(snaps0.values())

    dry = erase(engine, snap_dir, "door", T0 + timedelta(minutes=15), T0 + timedelta(minutes=61), user="dpo",
                dry_run=True)
    assert dry.event_ids == ("d1", "d2") and len(dry.snapshot_paths) == 3 and not dry.done
    assert state(engine, snap_dir) == (events0, snaps0, hourly0) and entries(engine) == []

    done = erase(engine, snap_dir, "hq/door", T0 + timedelta(minutes=15), T0 + timedelta(minutes=61), user="dpo")
    assert done.event_ids == ("d1", "d2")
    events, snaps, hourly = state(engine, snap_dir)
    assert events == ["d0", "d3", "l1"]
    assert snaps == {"d0": True, "d3": True, "l1": True}  # d1, d2 and the orphan received at 08:40 are gone
    assert hourly == hourly0  # statistics keep their counts...
    assert report_of(engine) == report0  # ...and so do the statistics pages
    assert not any((snap_dir / p).exists() for p in done.snapshot_paths)
    assert len(list(snap_dir.rglob("*.jpg"))) == 3
    ((user, action, target),) = entries(engine)
    assert (user, action) == ("dpo", "erase") and "erased 2 events and 3 snapshots of camera hq/door" in target

    with pytest.raises(ErasureError, match="no camera"):
        erase(engine, snap_dir, "garage", T0, T0 + timedelta(hours=1), user="dpo")
    with pytest.raises(ErasureError, match="must be after"):
        erase(engine, snap_dir, "door", T0, T0, user="dpo")


def test_erase_command_dry_run_and_erase(tmp_path, ingester, engine):
    from dashboard_support import write_config

    seed(ingester)
    cfg = write_config(tmp_path / "config.yaml", db_url=str(engine.url), snapshot_dir=tmp_path / "snapshots")
    args = ["dashboard", "erase", "--config", str(cfg), "--camera", "hq/door", "--since", "2026-11-30T08:15",
            "--until", "2026-11-30T09:01+00:00"]
    r = maskwatch(*args, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would erase 2 events and 3 snapshots" in r.stdout and "event d1" in r.stdout
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 5
    r = maskwatch(*args)
    assert r.returncode == 0 and "erased 2 events and 3 snapshots" in r.stdout, r.stdout + r.stderr
    assert state(engine, tmp_path / "snapshots")[0] == ["d0", "d3", "l1"]
    assert entries(engine)[0][0].startswith("cli:")
    r = maskwatch("dashboard", "erase", "--config", str(cfg), "--camera", "door", "--since", "yesterday",
                  "--until", "2026-11-30T09:00")
    assert r.returncode == 1 and "'yesterday' is not an ISO 8601 time" in r.stderr


def test_erase_form_previews_then_erases_with_confirmation(client, ingester, engine):
    seed(ingester)
    page = client.get("/privacy/erase").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "camera": "hq/door", "since": "2026-11-30T08:15",
            "until": "2026-11-30T09:01"}
    html = client.post("/privacy/erase", data={**form, "action": "preview"}).get_data(as_text=True)
    assert "would erase 2 events and 3 snapshots" in html
    html = client.post("/privacy/erase", data={**form, "action": "erase"}).get_data(as_text=True)
    assert "tick the confirmation box" in html
    assert len(state(engine, ingester.store.snapshot_dir)[0]) == 5
    html = client.post("/privacy/erase", data={**form, "action": "erase", "confirm": "yes"}).get_data(as_text=True)
    assert "erased 2 events and 3 snapshots" in html
    assert state(engine, ingester.store.snapshot_dir)[0] == ["d0", "d3", "l1"]
    assert entries(engine)[-1][:2] == ("manager", "erase")
    r = client.post("/privacy/erase", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert r.status_code == 400  # CSRF


@pytest.mark.integration
def test_access_log_erasure_and_retention_on_postgresql(postgres, tmp_path):  # noqa: F811
    from dashboard.db import make_engine, upgrade
    from dashboard.retention import purge
    from dashboard.settings import RetentionConfig

    engine = make_engine(postgres.url)
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snapshots", "maskwatch", name="pg-privacy")
    seed(ing)
    access_log.write(engine, "viewer", access_log.SNAPSHOT, "d1", "127.0.0.1", now=T0)
    done = erase(engine, tmp_path / "snapshots", "hq/door", T0 + timedelta(minutes=15), T0 + timedelta(minutes=61),
                 user="dpo")
    assert done.event_ids == ("d1", "d2") and len(done.snapshot_paths) == 3
    assert state(engine, tmp_path / "snapshots")[0] == ["d0", "d3", "l1"]
    assert [e[:2] for e in entries(engine)] == [("viewer", "snapshot"), ("dpo", "erase")]
    out = purge(engine, tmp_path / "snapshots", RetentionConfig(access_log_days=1, snapshots_days=1),
                now=T0 + timedelta(days=3))
    assert out["access_log"] == 2 and out["snapshots"] == 3 and out["events"] == 0


def test_a_failing_access_log_never_fails_the_view_and_is_counted(client, ingester, engine):
    from sqlalchemy import text

    ingester.process([Received(topic("event"), raw(event("e1"))), Received(topic("snapshot", event_id="e1"), jpeg())])
    before = access_log.failures
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE access_log RENAME TO access_log_gone"))
    assert client.get("/snapshots/e1.jpg").status_code == 200
    assert access_log.failures == before + 1
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE access_log_gone RENAME TO access_log"))
    assert "access-log writes failed" in client.get("/privacy/access-log").get_data(as_text=True)
