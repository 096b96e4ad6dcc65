"""Dashboard security through the Flask test client on a real SQLite file:

- every route of the app's url_map, with every method it accepts, refuses unauthenticated requests (a route
  added later is covered without editing this file), and a forged or wrong bearer token does not help;
- every state-changing route refuses a logged-in request without a valid CSRF token;
- SQL injection in the filters of pages, CSV export and API fails safely (400, never 500, database intact);
- path traversal in snapshot URLs and in stored snapshot paths never serves a file outside the snapshot
  folder; snapshot topics with traversal in the event id are rejected by the ingest.

Broker-side checks (no anonymous MQTT, an agent cannot publish to another site under the installed ACLs)
run against the installed mosquitto configuration in tests/deploy/test_deploy_install.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_support import CSRF_RE, csrf_from, event, jpeg, raw, topic
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dashboard.auth import create_token
from dashboard.db import session_factory
from dashboard.ingest import Ingester, Received
from dashboard.models import Event, Snapshot

# alerts.healthz is public on purpose: it answers "ok" or "degraded" and nothing else (tested in
# tests/dashboard/test_alerts_web.py); every other route must refuse unauthenticated requests.
PUBLIC = {"auth.login", "static", "alerts.healthz"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SECRET_FILE_TEXT = "root-only secret: do not serve"


def seed(app, tmp_path: Path) -> None:  # noqa: ANN001
    """Five events, e0's snapshot, and a secret file next to the snapshot folder (for traversal attempts)."""
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="sec")
    ing.process([Received(topic("event"), raw(event(f"e{i}"))) for i in range(5)]
                + [Received(topic("snapshot", event_id="e0"), jpeg())])
    (tmp_path / "secret.txt").write_text(SECRET_FILE_TEXT)


pytestmark = pytest.mark.app(seed=seed)


def concrete(rule) -> str:  # noqa: ANN001
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else "e0", rule.rule)


def all_routes(app) -> list[tuple[str, str, str]]:  # noqa: ANN001
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, concrete(rule)))
    return out


def refused(resp, method: str = "GET") -> bool:  # noqa: ANN001
    """401 (API), a redirect to the login page, or, for state-changing methods, the CSRF check's 400."""
    if resp.status_code == 401 or (resp.status_code == 400 and method in UNSAFE):
        return True
    return resp.status_code == 302 and resp.location.startswith("/login")


def test_the_route_list_is_not_empty_and_includes_pages_and_api(app) -> None:
    endpoints = {e for e, _, _ in all_routes(app)}
    assert len(endpoints) >= 10
    assert any(e.startswith("api.") for e in endpoints) and "views.snapshot" in endpoints


def test_every_route_and_method_refuses_unauthenticated_requests(app) -> None:
    c = app.test_client()
    for endpoint, method, url in all_routes(app):
        r = c.open(url, method=method)
        assert refused(r, method), f"{method} {url} ({endpoint}) answered {r.status_code} without authentication"
        assert b"e0" not in r.data or r.status_code == 302


@pytest.mark.parametrize("header", ["Bearer ", "Bearer not-a-token", "Bearer ' OR '1'='1", "Basic bWFuYWdlcjp4",
                                    "bearer x" * 200])
def test_wrong_bearer_tokens_are_refused_everywhere(app, header: str) -> None:
    c = app.test_client()
    for endpoint, method, url in all_routes(app):
        r = c.open(url, method=method, headers={"Authorization": header})
        assert refused(r, method), f"{method} {url} ({endpoint}) answered {r.status_code} to {header[:30]!r}"


def test_a_real_token_works_and_an_altered_one_does_not(app) -> None:
    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        token = create_token(db, "manager", "sec-test")
    c = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/v1/events", headers=auth).status_code == 200
    altered = {"Authorization": f"Bearer {token[:-2]}{'AA' if not token.endswith('AA') else 'BB'}"}
    assert refused(c.get("/api/v1/events", headers=altered))


def test_forged_session_cookie_is_refused(app) -> None:
    c = app.test_client()
    c.set_cookie("session", "eyJfdXNlcl9pZCI6IjEifQ.ZZZZZZ.forged-signature")
    assert refused(c.get("/"))


def test_state_changing_routes_need_a_csrf_token(app, client) -> None:
    unsafe = [(e, m, u) for e, m, u in all_routes(app) if m in UNSAFE] + [("auth.login", "POST", "/login")]
    assert unsafe, "at least login and logout change state"
    for endpoint, method, url in unsafe:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            r = client.open(url, method=method, data=data)
            assert r.status_code == 400, f"{method} {url} ({endpoint}) with {data} answered {r.status_code}"
    assert client.get("/").status_code == 200, "still logged in: the refused logout did nothing"
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302


INJECTIONS = ["1 OR 1=1", "1; DROP TABLE events; --", "' OR '1'='1", "1 UNION SELECT password_hash FROM users",
              "e0' --", "%27%20OR%201%3D1", "1e9999", "-1", "0x10", "\x00", "1)) OR ((1=1"]
FILTERS = ["camera", "verdict", "since", "until", "page", "per_page"]


def counts(app) -> tuple[int, int]:  # noqa: ANN001
    with Session(app.extensions["maskwatch"]["engine"]) as db:
        return (db.scalar(select(func.count()).select_from(Event)) or 0,
                db.scalar(select(func.count()).select_from(Snapshot)) or 0)


@pytest.mark.parametrize("path", ["/violations", "/violations.csv", "/api/v1/events", "/statistics",
                                  "/api/v1/stats"])
def test_sql_injection_in_filters_fails_safely(app, client, path: str) -> None:
    before = counts(app)
    for name in FILTERS + ["bucket", "days"]:
        for value in INJECTIONS:
            r = client.get(path, query_string={name: value})
            assert r.status_code in (200, 400, 404), f"{path}?{name}={value!r} -> {r.status_code}"
            body = r.get_data(as_text=True)
            assert "scrypt:" not in body and "Traceback" not in body  # no password hash, no stack trace
            if r.status_code == 200 and name in ("camera", "verdict"):
                body = CSRF_RE.sub("", body)  # a random CSRF token once contained "e3"
                assert "e3" not in body or value in ("-1",), f"{path}?{name}={value!r} widened the filter"
    assert counts(app) == before, "the database changed"


@pytest.mark.parametrize("event_id", ["' OR '1'='1", "e0' --", "e0; DROP TABLE events", "%", "_0"])
def test_sql_injection_in_event_ids_fails_safely(app, client, event_id: str) -> None:
    for path in (f"/events/{event_id}", f"/api/v1/events/{event_id}", f"/snapshots/{event_id}.jpg"):
        r = client.get(path)
        assert r.status_code == 404, f"{path} -> {r.status_code}"
    assert counts(app) == (5, 1)


@pytest.mark.parametrize("url", ["/snapshots/../secret.txt", "/snapshots/..%2Fsecret.txt", "/snapshots/%2e%2e/secret.txt",
                                 "/snapshots/..%2f..%2fsecret.jpg", "/snapshots/....//secret.jpg",
                                 "/snapshots/%252e%252e%252fsecret.jpg", "/static/../secret.txt",
                                 "/static/%2e%2e/%2e%2e/secret.txt", "/snapshots/e0.jpg/../../secret.txt"])
def test_path_traversal_in_snapshot_urls_serves_nothing_outside(client, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404, 308), f"{url} -> {r.status_code}"
    assert SECRET_FILE_TEXT.encode() not in r.data


@pytest.mark.parametrize("stored", ["../secret.txt", "/etc/passwd", "hq/door/../../../secret.txt",
                                    "hq/../../secret.txt"])
def test_a_stored_snapshot_path_outside_the_folder_is_not_served(app, client, tmp_path: Path, stored: str) -> None:
    """Defence in depth: even a tampered database row cannot make the dashboard read another file."""
    with Session(app.extensions["maskwatch"]["engine"]) as db:
        db.execute(update(Snapshot).where(Snapshot.event_id == "e0").values(path=stored))
        db.commit()
    r = client.get("/snapshots/e0.jpg")
    assert r.status_code == 404
    assert SECRET_FILE_TEXT.encode() not in r.data and b"root:" not in r.data


@pytest.mark.app(seed=None)  # an empty snapshot folder
@pytest.mark.parametrize("event_id", ["..", "../../evil", "..%2F..%2Fevil", "a/../../b", ".hidden", "x" * 300])
def test_snapshot_topics_with_traversal_are_rejected_by_the_ingest(app, tmp_path: Path, event_id: str) -> None:
    snaps = tmp_path / "snapshots"
    ing = Ingester(app.extensions["maskwatch"]["engine"], snaps, "maskwatch", name="sec")
    ing.process([Received(f"maskwatch/hq/camera/door/snapshot/{event_id}", jpeg())])
    assert ing.counters["rejected"] == 1 and not ing.counters["snapshot"]
    written = [p for p in tmp_path.rglob("*.jpg")]
    assert written == [], f"files written: {written}"
