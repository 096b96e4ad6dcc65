"""Roles and per-site access on every route of the url_map (a route added later is covered without editing this
file, and one without an access rule fails here): admin / operator / viewer against every route and method,
and a user of one site against every page, API route, CSV export, snapshot and live stream of another site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_support import add_user, event, jpeg, login, raw, stats, topic
from sqlalchemy import select

from dashboard import access
from dashboard.db import session_factory
from dashboard.ingest import Ingester, Received
from dashboard.models import Camera, User

ROLES = ("viewer", "operator", "admin")
PASSWORD = "correct horse battery"
ENDS_SESSION = {"auth.logout", "account.logout_everywhere", "account.password"}


def seed(app, tmp_path: Path) -> None:  # noqa: ANN001
    """Two sites' event, snapshot and stats (and the branch's preview); boss (admin), operator and viewer (hq)."""
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="acc")
    ing.process([Received(topic("event"), raw(event("hq-ev-1"))),
                 Received(topic("snapshot", event_id="hq-ev-1"), jpeg()),
                 Received(topic("stats"), raw(stats())),
                 Received(topic("event", camera="gate", site="branch"), raw(event("branch-ev-1", camera="gate",
                                                                                 site="branch"))),
                 Received(topic("snapshot", camera="gate", site="branch", event_id="branch-ev-1"), jpeg()),
                 Received(topic("stats", camera="gate", site="branch"), raw(stats(camera="gate", site="branch"))),
                 Received(topic("preview", camera="gate", site="branch"), jpeg())])
    add_user(app, "boss", PASSWORD, role="admin")
    for role in ("operator", "viewer"):
        add_user(app, role, PASSWORD, role=role, sites=["hq"])


pytestmark = pytest.mark.app(WTF_CSRF_ENABLED=False, manager=False, seed=seed)


def ids(app) -> dict[str, int]:  # noqa: ANN001
    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        return {c.site: c.id for c in db.scalars(select(Camera))} | {
            "user": db.scalar(select(User.id).where(User.name == "viewer"))}


def concrete(rule, site: str, known: dict[str, int]) -> str:  # noqa: ANN001
    def arg(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "camera_id":
            return str(known[site])
        if name == "event_id":
            return f"{site}-ev-1"
        if name == "user_id":
            return str(known["user"])
        return "x"
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", arg, rule.rule)


def routes(app, site: str = "hq") -> list[tuple[str, str, str]]:  # noqa: ANN001
    known = ids(app)
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in access.PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, concrete(rule, site, known)))
    return sorted(out, key=lambda r: r[0] in ENDS_SESSION)  # logging out last


def client_for(app, name: str):  # noqa: ANN001
    c = app.test_client()
    assert login(c, name, PASSWORD).status_code == 302
    return c


def test_every_route_has_an_access_rule(app) -> None:
    missing = {e for e, _, _ in routes(app)} - set(access.POLICY)
    assert not missing, f"routes without an entry in dashboard.access.POLICY (refused to everyone): {missing}"
    assert {e for e, _, _ in routes(app)} >= {"admin.users", "admin.audit_log", "reports.weekly", "views.live_jpg"}


@pytest.mark.parametrize("role", ROLES)
def test_every_route_and_method_for_every_role(app, role: str) -> None:
    c = client_for(app, {"admin": "boss"}.get(role, role))
    checked = 0
    for endpoint, method, url in routes(app):
        need = access.POLICY[endpoint].role
        r = c.open(url, method=method)
        if access.RANK[role] >= access.RANK[need]:
            assert r.status_code != 403, f"{role}: {method} {url} ({endpoint}, needs {need}) refused"
            assert r.status_code < 500, f"{role}: {method} {url} answered {r.status_code}"
        else:
            assert r.status_code == 403, f"{role}: {method} {url} ({endpoint}, needs {need}) got {r.status_code}"
        checked += 1
    assert checked >= 20


def test_a_user_of_one_site_sees_nothing_of_another(app) -> None:
    """Every GET route: the other site's objects are 404, and no list, export or API answer mentions them."""
    c = client_for(app, "viewer")
    boss = client_for(app, "boss")
    seen_by_boss = False
    for endpoint, method, url in routes(app, site="branch"):
        if method != "GET" or access.POLICY[endpoint].role != "viewer":
            continue
        r = c.get(url)
        body = r.get_data()
        if access.POLICY[endpoint].site_of is not None:
            assert r.status_code == 404, f"{url} ({endpoint}) of site branch answered {r.status_code} to an hq user"
            assert boss.get(url).status_code == 200, f"{url}: the admin should see it"
        else:
            assert r.status_code in (200, 404), f"{url} answered {r.status_code}"
            assert b"branch-ev-1" not in body and b"branch/gate" not in body, f"{url} ({endpoint}) leaks site branch"
            seen_by_boss |= b"branch" in boss.get(url).get_data()
        r.close()
    assert seen_by_boss, "the admin sees site branch in the lists (so the check above can fail)"
    # the own site is visible
    assert b"hq-ev-1" in c.get("/api/v1/events").get_data()
    assert b"hq-ev-1" in c.get("/violations.csv").get_data()


def test_a_user_without_sites_sees_no_camera_and_all_sites_sees_every_one(app) -> None:
    add_user(app, "nobody", PASSWORD, role="viewer", sites=[])
    add_user(app, "everywhere", PASSWORD, role="viewer", sites=["*"])
    assert client_for(app, "nobody").get("/api/v1/cameras").get_json()["items"] == []
    cams = client_for(app, "everywhere").get("/api/v1/cameras").get_json()["items"]
    assert {c["site"] for c in cams} == {"hq", "branch"}


def test_a_disabled_user_loses_the_session_and_the_token(app) -> None:
    from dashboard.auth import create_token

    c = client_for(app, "viewer")
    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        token = create_token(db, "viewer", "t")
        db.scalar(select(User).where(User.name == "viewer")).disabled = True
        db.commit()
    assert c.get("/").status_code == 302  # back to the login page
    assert app.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(app.test_client(), "viewer", PASSWORD).status_code == 401


def test_an_unknown_endpoint_is_refused_even_to_an_admin(app) -> None:
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    r = client_for(app, "boss").get("/forgotten")
    assert r.status_code == 403 and b"secret" not in r.data
