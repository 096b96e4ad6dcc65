"""Account page, token scopes and Secure cookies, through the Flask test client on a real SQLite file."""

from __future__ import annotations

import re

from dashboard_support import add_user, csrf_from, login, make_app

from dashboard.auth import create_token, list_tokens
from dashboard.db import session_factory


def _db(app):  # noqa: ANN001, ANN202
    return session_factory(app.extensions["maskwatch"]["engine"])()


def test_tokens_are_created_listed_and_revoked_on_the_account_page(tmp_path):
    app = make_app(tmp_path)
    add_user(app)
    c = app.test_client()
    assert login(c).status_code == 302
    page = c.get("/account").get_data(as_text=True)
    r = c.post("/account/tokens", data={"name": "grafana", "scope": "read", "expires": "30",
                                        "csrf_token": csrf_from(page)})
    html = r.get_data(as_text=True)
    token = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert r.status_code == 200 and "grafana" in html
    assert app.test_client().get("/api/v1/cameras", headers={"Authorization": f"bearer {token}"}).status_code == 200
    with _db(app) as db:
        (tok,) = list_tokens(db, "manager")
        assert tok.scope == "read" and tok.expires_at is not None
        assert 29 <= (tok.expires_at - tok.created_at).days <= 30
    r = c.post(f"/account/tokens/{tok.id}/revoke", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 303
    assert app.test_client().get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_user_cannot_revoke_another_users_token(tmp_path):
    app = make_app(tmp_path)
    add_user(app)
    add_user(app, "other", "another long password")
    with _db(app) as db:
        create_token(db, "other", "theirs")
        (theirs,) = list_tokens(db, "other")
    c = app.test_client()
    login(c)
    page = c.get("/account").get_data(as_text=True)
    c.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": csrf_from(page)})
    with _db(app) as db:
        assert [t.id for t in list_tokens(db, "other")] == [theirs.id]


def test_a_read_token_may_not_change_anything(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False)  # so that the scope check, not CSRF, answers
    add_user(app)
    with _db(app) as db:
        read = create_token(db, "manager", "r")
        write = create_token(db, "manager", "w", scope="write")
    c = app.test_client()
    r = c.post("/account/logout-everywhere", headers={"Authorization": f"Bearer {read}"})
    assert r.status_code == 403 and "read-only" in r.get_json()["error"]
    r = c.post("/account/logout-everywhere", headers={"Authorization": f"Bearer {write}"})
    assert r.status_code == 302


def test_the_password_change_needs_the_current_password_and_ends_sessions(tmp_path):
    app = make_app(tmp_path)
    add_user(app)
    c, other = app.test_client(), app.test_client()
    login(c)
    login(other)
    page = c.get("/account").get_data(as_text=True)
    bad = c.post("/account/password", data={"current": "wrong wrong wrong", "new": "a new long password",
                                             "csrf_token": csrf_from(page)})
    assert bad.status_code == 400
    ok = c.post("/account/password", data={"current": "correct horse battery", "new": "a new long password",
                                            "csrf_token": csrf_from(bad.get_data(as_text=True))})
    assert ok.status_code == 302 and ok.location.startswith("/login")
    assert other.get("/").status_code == 302 and c.get("/").status_code == 302
    assert login(app.test_client(), password="a new long password").status_code == 302


def _session_cookie(resp) -> str:  # noqa: ANN001
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_cookies_are_secure_over_https_and_behind_a_trusted_proxy(tmp_path):
    app = make_app(tmp_path, TRUSTED_PROXIES=["127.0.0.1"])
    add_user(app)
    plain = app.test_client()
    assert "Secure" not in _session_cookie(plain.get("/login"))
    tls = app.test_client()
    page = tls.get("/login", base_url="https://localhost")
    assert "Secure" in _session_cookie(page)
    proxied = app.test_client()
    assert "Secure" in _session_cookie(proxied.get("/login", headers={"X-Forwarded-Proto": "https"}))
    always = make_app(tmp_path / "b", COOKIE_SECURE="always").test_client()
    assert "Secure" in _session_cookie(always.get("/login"))


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(tmp_path):
    app = make_app(tmp_path)  # no trusted proxies
    c = app.test_client()
    assert "Secure" not in _session_cookie(c.get("/login", headers={"X-Forwarded-Proto": "https"}))
