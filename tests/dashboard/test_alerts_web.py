"""Dashboard side of alerts: the public /healthz (ok/degraded and nothing else), the admins' notification log
and its "send test" button (through the Flask test client on a real SQLite file)."""

from __future__ import annotations

from pathlib import Path

from dashboard_support import add_user, csrf_from, event, jpeg, login, make_app, raw, topic
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dashboard.ingest import Ingester, Received
from dashboard.models import IngestCounter, Notification
from dashboard.notifier import Notifier
from dashboard.settings import parse_settings


def _cfg(url: str = "json://127.0.0.1:9/hook"):  # type: ignore[no-untyped-def]
    return parse_settings({"notifications": {"enabled": True, "channels": {"ops": {"url": url}},
                                           "rules": [{"name": "all", "channels": ["ops"]}]}}).notifications


def test_healthz_is_public_and_says_only_ok(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_data(as_text=True) == "ok\n"
    assert r.mimetype == "text/plain"


def test_healthz_is_degraded_without_a_database(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.extensions["maskwatch"]["sessions"].configure(
        bind=__import__("dashboard.db", fromlist=["make_engine"]).make_engine(
            f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_data(as_text=True) == "degraded\n"


def test_healthz_is_degraded_when_the_ingester_stopped(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="i1")
    ing.process([Received(topic("event"), raw(event("h1")))])
    ing.flush_counters()
    assert app.test_client().get("/healthz").status_code == 200
    from datetime import UTC, datetime, timedelta

    with Session(app.extensions["maskwatch"]["engine"]) as s:
        s.execute(update(IngestCounter).values(updated_at=datetime.now(UTC) - timedelta(minutes=10)))
        s.commit()
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_data(as_text=True) == "degraded\n"


def test_notification_log_and_send_test_button(tmp_path: Path) -> None:
    app = make_app(tmp_path, NOTIFICATIONS=_cfg())
    add_user(app)
    engine = app.extensions["maskwatch"]["engine"]
    ing = Ingester(engine, tmp_path / "snapshots", "maskwatch")
    ing.attach_notifier(Notifier(engine, app.config["NOTIFICATIONS"], tmp_path / "snapshots"))
    ing.process([Received(topic("snapshot", event_id="w1"), jpeg()), Received(topic("event"), raw(event("w1")))])
    c = app.test_client()
    assert c.get("/notifications").status_code == 302  # login first
    login(c)
    page = c.get("/notifications").get_data(as_text=True)
    assert "ops" in page and "pending: <strong>1</strong>" in page and "127.0.0.1:9" not in page  # no URL shown
    assert c.post("/notifications/test").status_code == 400  # CSRF
    r = c.post("/notifications/test", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    with Session(engine) as s:
        kinds = [n.kind for n in s.scalars(select(Notification).order_by(Notification.id))]
    assert kinds == ["event", "test"]
    assert "Test message queued" in c.get("/notifications").get_data(as_text=True)


def test_a_switch_with_the_broker_away_says_so_and_bad_values_are_refused(tmp_path: Path) -> None:
    from dashboard_support import status
    from helpers.net import free_port

    app = make_app(tmp_path, MQTT_HOST="127.0.0.1", MQTT_PORT=free_port())  # nothing listens there
    add_user(app)
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch")
    ing.process([Received(topic("status"), raw(status()))])
    c = app.test_client()
    login(c)
    page = c.get("/cameras/1").get_data(as_text=True)
    assert 'id="switch-enabled"' in page and "unknown (not announced yet)" in page
    token = csrf_from(page)
    r = c.post("/cameras/1/switch/enabled", data={"csrf_token": token, "value": "OFF"}, follow_redirects=True)
    assert r.status_code == 200 and "Could not send the command" in r.get_data(as_text=True)
    assert c.post("/cameras/1/switch/enabled", data={"csrf_token": token, "value": "maybe"}).status_code == 400
    assert c.post("/cameras/1/switch/lights", data={"csrf_token": token, "value": "ON"}).status_code == 404
    assert c.post("/cameras/99/switch/enabled", data={"csrf_token": token, "value": "ON"}).status_code == 404
