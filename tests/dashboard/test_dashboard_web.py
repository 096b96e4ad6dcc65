"""Web pages and auth through the Flask test client on a real temporary SQLite file."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dashboard_support import add_user, csrf_from, event, jpeg, login, raw, stats, status, topic

from dashboard import create_app
from dashboard.ingest import Received
from dashboard.settings import load_settings, parse_settings
from edge_agent.config import ConfigError

PKG = Path(__file__).resolve().parents[2] / "dashboard"


def seed(ingester, n=120):
    """n events over two cameras (every 3rd incorrect), stats, status, a snapshot for e0 and a preview."""
    now = datetime.now(UTC)
    batch = []
    for i in range(n):
        cam = ("door", "lobby")[i % 2]
        t = (now - timedelta(minutes=i)).isoformat()
        batch.append(Received(topic("event", camera=cam),
                              raw(event(f"e{i}", camera=cam, time=t, verdict=("without_mask", "mask_incorrect")[i % 3 == 0]))))
    batch.append(Received(topic("stats"), raw(stats(people={"with_mask": 30, "without_mask": 10}))))
    batch.append(Received(topic("status"), raw(status())))
    batch.append(Received(topic("status", camera="lobby"), raw(status(camera="lobby", state="offline"))))
    batch.append(Received(topic("snapshot", event_id="e0"), jpeg((0, 0, 200))))
    batch.append(Received(topic("preview"), jpeg((10, 200, 10))))
    ingester.process(batch)


# ------------------------------------------------------------------ auth
@pytest.mark.parametrize("path", ["/", "/violations", "/statistics", "/cameras/1", "/cameras/1/live.jpg",
                                  "/violations.csv", "/events/e1", "/snapshots/e1.jpg"])
def test_pages_need_login(app, path):
    r = app.test_client().get(path)
    assert r.status_code == 302 and r.location.startswith("/login?next=")


@pytest.mark.parametrize("path", ["/api/v1/cameras", "/api/v1/events", "/api/v1/stats", "/api/v1/ingest",
                                  "/api/v1/openapi.yaml"])
def test_api_needs_auth_and_answers_json(app, path):
    r = app.test_client().get(path)
    assert r.status_code == 401 and "error" in r.get_json()


def test_every_view_is_behind_login(app):
    """A new route added later cannot forget the login: only login, static files and /healthz (ok/degraded
    only, on purpose, for uptime checkers: tests/dashboard/test_alerts_web.py) are public."""
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.login", "static", "alerts.healthz") or "GET" not in rule.methods:
            continue
        url = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        assert client.get(url).status_code in (302, 401), rule.rule


def test_login_wrong_password_and_unknown_user(app):
    c = app.test_client()
    assert login(c, password="wrong password!").status_code == 401
    assert login(c, name="nobody").status_code == 401
    assert c.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(app):
    c = app.test_client()
    r = c.post("/login", data={"username": "manager", "password": "correct horse battery"})
    assert r.status_code == 400
    assert c.get("/").status_code == 302


def test_session_cookie_is_httponly_and_samesite(app):
    c = app.test_client()
    r = login(c)
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_needs_post_with_csrf(client):
    page = client.get("/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert client.get("/").status_code == 302


def test_login_redirect_stays_on_site(app):
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    r = c.post("/login?next=https://evil.example/", data={"username": "manager", "password": "correct horse battery",
                                                          "csrf_token": token})
    assert r.location == "/"


def test_no_secret_key_outside_test_mode():
    cfg = parse_settings({"dashboard": {"database_url": "sqlite:///:memory:"}})
    with pytest.raises(ConfigError, match="secret_key"):
        create_app(cfg)
    app = create_app(cfg, {"TESTING": True})
    assert len(app.config["SECRET_KEY"]) >= 32  # test mode: a random key, never a fixed default


def test_security_headers(client):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_no_cdn_links_anywhere():
    for f in list((PKG / "templates").rglob("*.html")) + [PKG / "static" / "app.js", PKG / "static" / "stats.js"]:
        text = f.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert "cdn" not in text.lower(), f
    assert (PKG / "static" / "vendor" / "chart.umd.min.js").stat().st_size > 100_000


# ------------------------------------------------------------------ pages
def test_overview_shows_cameras_status_and_today(client, ingester):
    seed(ingester)
    html = client.get("/").get_data(as_text=True)
    assert "hq/door" in html and "hq/lobby" in html
    assert "75%" in html  # 30 of 40 people wore a mask today
    assert ">offline<" in html and ">online<" in html
    assert 'src="/cameras/1/live.jpg"' in html


def test_admins_see_what_the_ingest_refused_on_the_overview(app, client, ingester):
    """Rejections are shown, not only counted: another agent's event for door while its owner is online
    (agent_mismatch) and a broken payload, counted by the ingest, summed over its workers on the overview."""
    assert "ingest-rejections" not in client.get("/").get_data(as_text=True)  # nothing refused: no notice
    ingester.process([Received("maskwatch/hq/agent/pi-1/available", b"online"),
                      Received(topic("event"), raw(event("mine", agent="pi-1"))),
                      Received(topic("event"), raw(event("forged", agent="pi-2"))),
                      Received(topic("event"), b"{not json")])
    ingester.flush_counters()
    html = client.get("/").get_data(as_text=True)
    assert 'id="ingest-rejections"' in html
    assert "<code>agent_mismatch</code>: 1" in html and "<code>invalid_json</code>: 1" in html
    assert "two agents configured with one camera name" in html
    add_user(app, "vera", "viewer password 123", role="viewer")
    viewer = app.test_client()
    assert login(viewer, "vera", "viewer password 123").status_code == 302
    assert "ingest-rejections" not in viewer.get("/").get_data(as_text=True)  # system matters: admins only


def test_empty_dashboard_explains(client):
    assert "No camera has reported yet" in client.get("/").get_data(as_text=True)


def test_camera_page_and_live_frames(client, ingester):
    seed(ingester)
    html = client.get("/cameras/1").get_data(as_text=True)
    assert 'data-src="/cameras/1/live.jpg"' in html and "/events/e0" in html
    still = client.get("/cameras/1/live.jpg")
    assert still.status_code == 200 and still.data[:3] == b"\xff\xd8\xff"
    assert client.get("/cameras/2/live.jpg").status_code == 404  # lobby sent no preview
    assert "no live image yet" in client.get("/cameras/2").get_data(as_text=True)
    assert client.get("/cameras/99").status_code == 404


def test_live_frame_polling_answers_304_until_a_new_frame(client, ingester):
    """The live view polls live.jpg with If-None-Match: unchanged frames cost a 304, a new one comes whole."""
    seed(ingester)
    first = client.get("/cameras/1/live.jpg")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag and "no-cache" in first.headers["Cache-Control"]
    again = client.get("/cameras/1/live.jpg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    new = jpeg((200, 10, 10), text="next")
    ingester.process([Received(topic("preview"), new)])
    fresh = client.get("/cameras/1/live.jpg", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.data == new and fresh.headers["ETag"] != etag


def test_violations_filters_pagination_and_snapshot(client, ingester):
    seed(ingester)
    html = client.get("/violations").get_data(as_text=True)
    assert "120 found" in html and "page 1 of 3" in html
    assert html.index("/events/e0") < html.index("/events/e1")  # newest first
    html = client.get("/violations?camera=1&verdict=mask_incorrect").get_data(as_text=True)
    assert "20 found" in html  # door = even i, incorrect = i % 3 == 0 -> i % 6 == 0
    since = (datetime.now(UTC) - timedelta(minutes=9, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    html = client.get("/violations", query_string={"since": since}).get_data(as_text=True)
    assert "10 found" in html
    html = client.get("/violations?page=3").get_data(as_text=True)
    assert "/events/e119" in html and "page 3 of 3" in html
    assert client.get("/violations?verdict=with_mask").status_code == 400
    assert client.get("/violations?page=0").status_code == 400
    ev = client.get("/events/e0").get_data(as_text=True)
    assert "/snapshots/e0.jpg" in ev and 'data-box="100,60,220,200"' in ev
    snap = client.get("/snapshots/e0.jpg")
    assert snap.status_code == 200 and snap.data[:3] == b"\xff\xd8\xff"
    assert "No snapshot" in client.get("/events/e1").get_data(as_text=True)
    assert client.get("/snapshots/e1.jpg").status_code == 404
    assert client.get("/events/nope").status_code == 404


def test_csv_export_uses_filters(client, ingester):
    seed(ingester)
    r = client.get("/violations.csv?camera=2")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 60 and {row["camera"] for row in rows} == {"lobby"}
    assert rows[0]["event_id"] == "e1" and rows[0]["verdict"] == "without_mask"


def test_statistics_page(client, ingester):
    seed(ingester)
    for q in ("", "?bucket=day&days=30", "?bucket=week&days=90&camera=2"):
        r = client.get("/statistics" + q)
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        assert 'id="chart-compliance"' in html and "vendor/chart.umd.min.js" in html
    html = client.get("/statistics").get_data(as_text=True)
    assert 'id="total-compliance">75%' in html
    assert client.get("/statistics?bucket=month").status_code == 400
    assert client.get("/statistics?days=2").status_code == 400


def test_pages_work_on_a_phone_layout(client):
    html = client.get("/").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    css = client.get("/static/style.css").get_data(as_text=True)
    assert "@media (max-width: 600px)" in css


def test_repeated_failed_logins_are_throttled(app):
    c = app.test_client()
    for _ in range(5):
        assert login(c, password="not the password").status_code == 401
    r = login(c)  # even the right password waits now
    assert r.status_code == 429 and "Too many failed logins" in r.get_data(as_text=True)
    assert c.get("/").status_code == 302
    other = app.test_client()  # another user name is not locked out by this client's failures
    add_user(app, "second", "another long password")
    assert login(other, name="second", password="another long password").status_code == 302


def test_deleted_user_loses_session_and_tokens(app, client):
    from dashboard.auth import create_token, delete_user
    from dashboard.db import session_factory

    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        token = create_token(db, "manager", "t")
        delete_user(db, "manager")
    assert client.get("/").status_code == 302
    api = app.test_client().get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_settings_are_read_from_the_config_file_like_the_cli(tmp_path, monkeypatch):
    from dashboard_support import write_config

    cfg = write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                       snapshot_dir=tmp_path / "snaps")
    monkeypatch.setenv("MASKWATCH_CONFIG", str(cfg))
    monkeypatch.setenv("MASKWATCH_SECRET_KEY", "s" * 64)
    app = create_app(load_settings())
    assert app.config["DATABASE_URL"].endswith("x.sqlite3") and app.config["SECRET_KEY"] == "s" * 64
    assert app.config["SNAPSHOT_DIR"] == str(tmp_path / "snaps") and not app.testing
    monkeypatch.setenv("MASKWATCH_SECRET_KEY", "")
    with pytest.raises(ConfigError, match="secret_key"):
        create_app(load_settings())


def test_the_factory_reads_no_file(tmp_path, monkeypatch):
    """flaskr's factory: the settings are an argument. A config file named by $MASKWATCH_CONFIG (here an invalid
    one) is never opened by ``create_app``; without settings the app has the model's defaults."""
    from dashboard.settings import DEFAULTS, Settings, flask_settings

    bad = tmp_path / "config.yaml"
    bad.write_text("dashboard: {port: not-a-port}\n")
    monkeypatch.setenv("MASKWATCH_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="dashboard.port"):
        load_settings()
    app = create_app(None, {"TESTING": True})
    assert app.config["DATABASE_URL"] == Settings().dashboard.database_url == "sqlite:///var/dashboard.sqlite3"
    assert {k: app.config[k] for k in DEFAULTS if k != "SECRET_KEY"} == {k: v for k, v in DEFAULTS.items()
                                                                          if k != "SECRET_KEY"}
    assert set(flask_settings(Settings())) <= set(DEFAULTS)  # every derived setting has its default


def test_camera_page_shows_the_agents_backlog_and_dead_letters(client, ingester):
    """From the agent's latest stats (issue 13): a refused message is shown where the operator looks."""
    from dashboard.ingest import Received

    seed(ingester)
    ingester.process([Received(topic("stats"), raw(stats(queue_pending=12, dead_letters=3)))])
    html = client.get("/cameras/1").get_data(as_text=True)
    assert "Agent backlog: 12 message(s)" in html
    assert "3 message(s) from this" in html and "refused by the broker" in html
    ingester.process([Received(topic("stats"), raw(stats(queue_pending=0, dead_letters=0)))])
    html = client.get("/cameras/1").get_data(as_text=True)
    assert "refused by the broker" not in html and "Agent backlog: 0 message(s)" in html
