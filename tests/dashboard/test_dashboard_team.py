"""The team dashboard through the Flask test client on a real SQLite file: user management and the audit log,
per-site time zones ("today", buckets, exports), the heatmap, the weekly report (page and CSV) with the
previous week, gap-free series, and the CLI's --role/--site."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dashboard_support import add_user, csrf_from, event, login, raw, stats, topic
from sqlalchemy import select

from dashboard import reports
from dashboard.audit import recent, record
from dashboard.db import session_factory
from dashboard.ingest import Ingester, Received
from dashboard.models import AuditEntry, User

PASSWORD = "correct horse battery"


def sessions(app):  # noqa: ANN001, ANN201
    return session_factory(app.extensions["maskwatch"]["engine"])


def add_boss(app, tmp_path) -> None:  # noqa: ANN001
    add_user(app, "boss", PASSWORD, role="admin")


pytestmark = pytest.mark.app(SITE_TIMEZONES={"jkt": "Asia/Jakarta"}, TIMEZONE="UTC", manager=False, seed=add_boss)


@pytest.fixture
def ingest(app, tmp_path):
    # historical seeds (weeks back): past the clock bounds that replace far-off agent time stamps
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="team",
                   time_bounds=False)
    return lambda msgs: ing.process([Received(t, raw(d)) for t, d in msgs])


def admin_client(app):  # noqa: ANN001, ANN201
    c = app.test_client()
    assert login(c, "boss", PASSWORD).status_code == 302
    return c


def post_form(c, page: str, url: str, **data):  # noqa: ANN001, ANN201
    return c.post(url, data={"csrf_token": csrf_from(c.get(page).get_data(as_text=True)), **data})


# ------------------------------------------------------------------ users and audit
def test_admin_creates_a_user_who_then_logs_in_with_the_shown_password(app) -> None:
    c = admin_client(app)
    r = post_form(c, "/admin/users", "/admin/users", name="ani", role="operator", sites=["hq"], extra_sites="bdg")
    assert r.status_code == 302
    page = c.get("/admin/users").get_data(as_text=True)
    password = page.split("(shown once): ")[1].split("<")[0].strip()
    with sessions(app)() as db:
        u = db.scalar(select(User).where(User.name == "ani"))
        assert u.role == "operator" and u.sites == ["bdg", "hq"]
    assert login(app.test_client(), "ani", password).status_code == 302
    entries = [(a.actor, a.action, a.target) for a in recent(sessions(app)())]
    assert ("boss", "user.create", "ani") in entries


def test_disable_reset_and_change_role_are_recorded_and_take_effect(app) -> None:
    add_user(app, "budi", PASSWORD, role="viewer", sites=["hq"])
    with sessions(app)() as db:
        uid = db.scalar(select(User.id).where(User.name == "budi"))
    c = admin_client(app)
    budi = app.test_client()
    assert login(budi, "budi", PASSWORD).status_code == 302
    assert budi.get("/admin/users").status_code == 403
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="access", role="admin", sites="*")
    assert budi.get("/admin/users").status_code == 200
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="disable")
    assert budi.get("/").status_code == 302, "a disabled user's session ends"
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="enable")
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="password")
    assert login(app.test_client(), "budi", PASSWORD).status_code == 401, "the old password no longer works"
    actions = [a.action for a in recent(sessions(app)(), action="user.")]
    assert actions[:4] == ["user.password", "user.enable", "user.disable", "user.access"]
    audit = c.get("/admin/audit").get_data(as_text=True)
    assert "user.disable" in audit and "budi" in audit


def test_the_last_admin_cannot_be_demoted_or_disabled(app) -> None:
    c = admin_client(app)
    with sessions(app)() as db:
        uid = db.scalar(select(User.id).where(User.name == "boss"))
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="access", role="viewer")
    post_form(c, "/admin/users", f"/admin/users/{uid}", action="disable")
    with sessions(app)() as db:
        u = db.get(User, uid)
        assert u.role == "admin" and not u.disabled


def test_bad_input_names_the_problem_and_changes_nothing(app) -> None:
    c = admin_client(app)
    post_form(c, "/admin/users", "/admin/users", name="bad name!", role="viewer")
    assert "user name" in c.get("/admin/users").get_data(as_text=True)
    post_form(c, "/admin/users", "/admin/users", name="ok", role="root")
    assert "role &#39;root&#39;: must be one of viewer, operator, admin" in c.get("/admin/users").get_data(as_text=True)
    with sessions(app)() as db:
        assert db.scalar(select(User).where(User.name == "ok")) is None


def test_record_is_one_call_stored_with_the_callers_change(app) -> None:
    with sessions(app)() as db:
        record(db, "alice", "event.review", "e1", "false positive")
        db.rollback()  # the caller's change failed: no audit entry either
        assert db.scalar(select(AuditEntry)) is None
        record(db, "alice", "event.review", "e1", "false positive", commit=True)
    with sessions(app)() as db:
        a = db.scalar(select(AuditEntry))
        assert (a.actor, a.action, a.target, a.detail) == ("alice", "event.review", "e1", "false positive")


# ------------------------------------------------------------------ time zones
def test_today_and_exports_use_the_sites_time_zone(app, ingest) -> None:
    # a time that is "today" in one of the two zones and not in the other (there is one at any hour)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    jkt = ZoneInfo("Asia/Jakarta")

    def today_in(t: datetime, zone) -> bool:  # noqa: ANN001
        return t.astimezone(zone).date() == now.astimezone(zone).date()
    t = next(now - timedelta(hours=h) for h in range(1, 30) if today_in(now - timedelta(hours=h), jkt)
             != today_in(now - timedelta(hours=h), UTC))
    for site in ("hq", "jkt"):
        ingest([(topic("stats", site=site), stats(site=site, time=t.isoformat())),
                (topic("event", site=site), event(f"{site}-1", site=site, time=t.isoformat()))])
    c = admin_client(app)
    cams = {x["site"]: x for x in c.get("/api/v1/cameras").get_json()["items"]}
    assert cams["jkt"]["timezone"] == "Asia/Jakarta" and cams["hq"]["timezone"] == "UTC"
    assert cams["jkt"]["today"]["people"] == (10 if today_in(t, jkt) else 0)
    assert cams["hq"]["today"]["people"] == (10 if today_in(t, UTC) else 0)
    rows = list(csv.DictReader(io.StringIO(c.get("/violations.csv").get_data(as_text=True))))
    by_site = {r["site"]: r for r in rows}
    assert by_site["jkt"]["timezone"] == "Asia/Jakarta" and by_site["jkt"]["time_local"].endswith("+07:00")
    assert by_site["hq"]["time_local"].endswith("+00:00")
    stats_jkt = c.get("/api/v1/stats?site=jkt&days=7").get_json()
    assert stats_jkt["timezone"] == "Asia/Jakarta"
    assert c.get("/api/v1/stats?days=7").get_json()["timezone"] == "UTC", "sites in several zones: the default"
    page = c.get("/statistics?site=jkt").get_data(as_text=True)
    assert "Asia/Jakarta" in page


def test_a_bad_site_time_zone_names_the_key_and_the_site() -> None:
    """The dashboard's settings validate its sections (since issue 15 the agent's Config passes them through)."""
    from dashboard.settings import parse_settings
    from edge_agent.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="site 'jkt'.*unknown time zone 'Mars/Base'"):
        parse_settings({"site": "hq", "agent_id": "a", "dashboard": {"site_timezones": {"jkt": "Mars/Base"}}})


# ------------------------------------------------------------------ statistics a manager uses
def seed_week(ingest, site: str, monday: date, tz_offset_h: int) -> None:
    """Monday 09:00 local: 8 with, 2 without; Wednesday 14:00 local: 5 with; one event Monday."""
    base = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) - timedelta(hours=tz_offset_h)
    ingest([(topic("stats", site=site), stats(site=site, time=(base + timedelta(hours=9)).isoformat())),
            (topic("stats", site=site), stats(site=site, time=(base + timedelta(days=2, hours=14)).isoformat(),
                                              people={"with_mask": 5, "without_mask": 0, "mask_incorrect": 0})),
            (topic("event", site=site), event(f"{site}-w-{monday}", site=site, time=(base + timedelta(hours=9, minutes=5)
                                                                             ).isoformat()))])


def test_weekly_report_per_site_in_its_zone_with_the_previous_week(app, ingest) -> None:
    monday = reports.week_of(datetime.now(UTC).date()) - timedelta(days=14)
    seed_week(ingest, "jkt", monday, 7)
    seed_week(ingest, "jkt", monday + timedelta(days=7), 7)  # the week after: the "current" report
    week = f"{(monday + timedelta(days=7)).isocalendar()[0]}-W{(monday + timedelta(days=7)).isocalendar()[1]:02d}"
    c = admin_client(app)
    r = c.get(f"/reports/weekly.csv?site=jkt&week={week}")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    door = [x for x in rows if x["camera"] == "door"]
    assert len(door) == 7, "every day of the week, also those without anyone (gap-free)"
    assert [int(x["people"]) for x in door] == [10, 0, 5, 0, 0, 0, 0]
    assert door[0]["timezone"] == "Asia/Jakarta" and door[0]["violation_events"] == "1"
    assert door[0]["compliance"] == "0.8000" and door[1]["compliance"] == ""
    total = rows[-1]
    assert total["date"] == "week" and total["people"] == "15"
    html = c.get(f"/reports/weekly?site=jkt&week={week}").get_data(as_text=True)
    assert "87%" in html and "previous week 87%" in html and "09:00" in html  # busiest hour, local
    assert c.get("/reports/weekly?site=nowhere").status_code == 404
    assert c.get("/reports/weekly?site=jkt&week=soon").status_code == 400


def test_heatmap_by_local_weekday_and_hour(app, ingest) -> None:
    monday = reports.week_of(datetime.now(UTC).date()) - timedelta(days=7)
    seed_week(ingest, "jkt", monday, 7)
    with sessions(app)() as db:
        from dashboard.queries import cameras

        start = datetime.now(UTC) - timedelta(days=30)
        heat = reports.heatmap(db, "Asia/Jakarta", start, datetime.now(UTC) + timedelta(hours=1), cameras(db))
    assert heat.people[0][9] == 10 and heat.people[2][14] == 5 and heat.violations[0][9] == 1
    assert sum(map(sum, heat.people)) == 15 and heat.level(0, 9) == 5 and heat.level(1, 1) == 0
    page = admin_client(app).get("/statistics?site=jkt&days=30").get_data(as_text=True)
    assert 'id="heatmap"' in page and "10 people, 1 violation events" in page


def test_statistics_compare_with_the_previous_period(app, ingest) -> None:
    now = datetime.now(UTC)
    ingest([(topic("stats"), stats(time=(now - timedelta(hours=2)).isoformat())),
            (topic("stats"), stats(time=(now - timedelta(days=1, hours=2)).isoformat(),
                                   people={"with_mask": 5, "without_mask": 5, "mask_incorrect": 0}))])
    page = admin_client(app).get("/statistics?site=hq&days=1").get_data(as_text=True)
    assert "+30 percentage points" in page, "80% now against 50% the day before"
    assert "compliance 50%, 10 people" in page


def test_series_list_every_bucket_even_without_data(app, ingest) -> None:
    ingest([(topic("stats"), stats(time=(datetime.now(UTC) - timedelta(hours=5)).isoformat()))])
    d = admin_client(app).get("/api/v1/stats?days=1&bucket=hour&site=hq").get_json()
    assert len(d["labels"]) == 24 and len(d["series"]["hq/door"]) == 24
    assert sum(v is not None for v in d["series"]["hq/door"]) == 1


# ------------------------------------------------------------------ CLI
def test_cli_create_user_with_role_and_sites(tmp_path) -> None:
    from dashboard_support import maskwatch, write_config

    cfg = write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       snapshot_dir=tmp_path / "snaps")
    assert maskwatch("dashboard", "db-upgrade", "--config", str(cfg)).returncode == 0
    r = maskwatch("dashboard", "create-user", "sari", "--role", "operator", "--site", "hq", "--site", "bdg",
                  "--config", str(cfg))
    assert r.returncode == 0 and len(r.stdout.strip()) >= 10, r.stderr
    assert maskwatch("dashboard", "create-user", "owner", "--config", str(cfg)).returncode == 0
    r = maskwatch("dashboard", "create-user", "x", "--role", "root", "--config", str(cfg))
    assert r.returncode != 0 and "viewer" in r.stderr
    from dashboard.db import make_engine

    with session_factory(make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"))() as db:
        u = db.scalar(select(User).where(User.name == "sari"))
        assert (u.role, u.sites) == ("operator", ["bdg", "hq"])
        assert db.scalar(select(User.role).where(User.name == "owner")) == "admin", "the CLI's default"
        assert [(a.actor, a.action) for a in recent(db)] == [("cli", "user.create")] * 2


def test_existing_users_become_admins_on_upgrade(tmp_path) -> None:
    from sqlalchemy import text

    from dashboard.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, password_hash, created_at) VALUES ('old', 'x', '2026-01-01')"))
    upgrade(engine)
    with session_factory(engine)() as db:
        u = db.scalar(select(User).where(User.name == "old"))
        assert u.role == "admin" and not u.disabled and u.sites == []


# ------------------------------------------------------------------ contrast
def _themes() -> dict[str, dict[str, str]]:
    import re

    from dashboard_support import REPO

    css = (REPO / "dashboard" / "static" / "style.css").read_text()
    out = {}
    for name, selector in (("light", r":root \{"), ("dark", r':root\[data-theme="dark"\] \{')):
        block = re.search(selector + r"(.*?)\}", css, re.S).group(1)
        out[name] = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", block))
    return out


def _contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        h = h.lstrip("#")
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        ch = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        ch = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_colours_have_a_contrast_of_at_least_4_5_in_both_themes(theme: str) -> None:
    v = _themes()[theme]
    pairs = [("ink", "bg"), ("ink", "card"), ("muted", "card"), ("muted", "bg"), ("accent", "card"),
             ("accent", "bg"), ("ok", "ok-bg"), ("bad", "bad-bg"), ("warn", "warn-bg"), ("muted", "unknown-bg"),
             ("ink", "field")]
    low = {f"{a} on {b}": round(_contrast(v[a], v[b]), 2) for a, b in pairs if _contrast(v[a], v[b]) < 4.5}
    assert not low, f"{theme}: {low}"


def test_the_chart_gets_the_previous_periods_site_line(app, ingest) -> None:
    import json
    import re

    now = datetime.now(UTC)
    ingest([(topic("stats"), stats(time=(now - timedelta(days=1, hours=2)).isoformat()))])
    page = admin_client(app).get("/statistics?site=hq&days=1").get_data(as_text=True)
    data = json.loads(re.search(r'id="stats-data">(.*?)</script>', page, re.S).group(1))
    assert list(data["previous"]) == ["site hq"] and len(data["previous"]["site hq"]) == len(data["labels"])
    assert sum(v is not None for v in data["previous"]["site hq"]) == 1


def test_an_erasure_is_in_the_audit_log(app, ingest, tmp_path) -> None:
    from dashboard.erasure import erase

    t = datetime.now(UTC) - timedelta(hours=1)
    ingest([(topic("event"), event("gone-1", time=t.isoformat()))])
    erase(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "hq/door", t - timedelta(minutes=5),
          t + timedelta(minutes=5), user="boss")
    entries = [(a.actor, a.action) for a in recent(sessions(app)())]
    assert ("boss", "privacy.erase") in entries
    assert "privacy.erase" in admin_client(app).get("/admin/audit").get_data(as_text=True)
