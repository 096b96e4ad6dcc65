"""Notifications in the configured language and in each site's time zone: an Indonesian message with the
Jakarta local time reaches a real HTTP receiver on loopback (apprise json://), a UTC site's message keeps
UTC, active hours follow the site's zone, and an unknown language is a config error naming the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import PREFIX, event, jpeg, raw, topic
from helpers.net import wait_for
from helpers.webhook import Receiver

from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.notifier import Notifier, send_test_now
from dashboard.notify_text import text
from dashboard.settings import parse_settings
from dashboard.zones import SiteZones
from edge_agent.config import ConfigError
from tests.dashboard.test_notifications import rows

ZONES = SiteZones("UTC", {"jkt": "Asia/Jakarta"})  # hq: not listed, dashboard.timezone (UTC)


def ncfg(url: str, language: str | None = "id", channel_language: str | None = None, **rule: Any) -> Any:
    ch: dict[str, Any] = {"url": url, "attach_snapshot": False}
    if channel_language:
        ch["language"] = channel_language
    data: dict[str, Any] = {"enabled": True, "channels": {"hook": ch},
                            "rules": [{"name": "all", "channels": ["hook"], "cooldown_s": 0, **rule}]}
    if language:
        data["language"] = language
    return parse_settings({"notifications": data}).notifications


def setup(tmp_path: Path, cfg: Any) -> tuple[Ingester, Notifier]:
    engine = make_engine(f"sqlite:///{tmp_path / 'dash.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snapshots", PREFIX)
    n = Notifier(engine, cfg, tmp_path / "snapshots", ZONES, poll_s=0.2)
    ing.attach_notifier(n)
    return ing, n


def violation(eid: str, site: str, t: datetime) -> list[Received]:
    snap = topic("snapshot", "door", site=site, event_id=eid)
    return [Received(snap, jpeg(text=eid), 1, 1),
            Received(topic("event", "door", site=site), raw(event(eid, "door", site=site, time=t.isoformat(),
                                                                  snapshot=snap)), 2, 1)]


def t0() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_indonesian_message_with_jakarta_local_time_reaches_a_webhook(tmp_path: Path, receiver: Receiver) -> None:
    t = t0()
    ing, n = setup(tmp_path, ncfg(receiver.url()))
    n.start()
    try:
        ing.process(violation("ev-jkt", "jkt", t) + violation("ev-hq", "hq", t))
        wait_for(lambda: len(receiver.requests) >= 2, 15, what="both messages")
    finally:
        n.stop()
    by_site = {("jkt" if "jkt/door" in r["json"]["title"] else "hq"): r["json"] for r in receiver.requests}
    jkt, hq = by_site["jkt"], by_site["hq"]
    jakarta = t + timedelta(hours=7)  # WIB, no daylight saving
    assert jkt["title"] == "MaskWatch: tanpa masker di jkt/door"  # the core's "no mask", translated
    assert jkt["message"].startswith("Orang tanpa masker di kamera door (jkt) pada ")
    assert f"{jakarta:%H.%M.%S} (Asia/Jakarta)" in jkt["message"], jkt["message"]  # Indonesian time format
    assert "keyakinan 0,90" in jkt["message"]  # decimal comma
    assert f"{t:%H.%M.%S} (UTC)" in hq["message"], hq["message"]
    assert all(r.status == "sent" for r in rows(ing))


def test_english_is_the_default_and_a_channel_may_choose_its_own_language(tmp_path: Path,
                                                                           receiver: Receiver) -> None:
    t = t0()
    cfg = ncfg(receiver.url(), language=None)
    assert cfg.language == "en" and cfg.language_of("hook") == "en"
    title, body = text("en").event("without_mask", "jkt", "door", t, ZONES.of("jkt"), 0.9, None)
    assert title == "MaskWatch: no mask at jkt/door"
    assert f"{(t + timedelta(hours=7)).strftime('%-I:%M:%S')}" in body and "(Asia/Jakarta)" in body
    cfg = ncfg(receiver.url(), language="en", channel_language="id")
    assert cfg.language_of("hook") == "id"
    (res,) = send_test_now(setup(tmp_path, cfg)[0].engine, cfg, tmp_path, zones=SiteZones("Asia/Jakarta"))
    assert res[1] == "sent", res
    msg = receiver.requests[0]["json"]
    assert msg["title"] == "Notifikasi uji MaskWatch"
    assert "(Asia/Jakarta)" in msg["message"] and "saluran 'hook' berfungsi" in msg["message"]


def test_digest_in_indonesian_with_the_site_time() -> None:
    since = datetime(2026, 12, 1, 3, 4, 5, tzinfo=UTC)
    title, body = text("id").digest(5, "jkt", "door", since, 10, ZONES.of("jkt"), "http://d/violations?camera=1")
    assert title == "MaskWatch: 5 pelanggaran di jkt/door"
    assert body.startswith("5 pelanggaran lagi di kamera door (jkt) dalam 10 menit terakhir, sejak ")
    assert "10.04.05 (Asia/Jakarta)" in body and body.endswith("\nhttp://d/violations?camera=1")


def test_active_hours_follow_the_site_time_zone(tmp_path: Path, receiver: Receiver) -> None:
    t = t0()
    h = (t + timedelta(hours=7)).hour  # the Jakarta hour; in UTC it is 7 hours off, outside the window
    ing, n = setup(tmp_path, ncfg(receiver.url(), schedule={"hours": [f"{h:02d}:00-{h + 1:02d}:00"]}))
    ing.process(violation("in-jkt", "jkt", t) + violation("in-hq", "hq", t))
    assert [r.event_id for r in rows(ing)] == ["in-jkt"]  # the UTC site's event is outside its active hours


@pytest.mark.parametrize("data", [{"language": "fr"}, {"channels": {"a": {"url": "json://127.0.0.1:9/x",
                                                                         "language": "de"}}}])
def test_unknown_language_names_the_key_and_the_allowed_values(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"notifications": data})
    msg = str(err.value)
    assert "language" in msg and "'en'" in msg and "'id'" in msg, msg
    assert ("notifications.channels.a.language" if "channels" in data else "notifications.language") in msg
