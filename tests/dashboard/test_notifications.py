"""Notifications: rules, cool-down and digest, delivery through apprise to a real HTTP receiver (json://) and a
real SMTP server (aiosmtpd, mailto://), a channel that is down (retried, recorded, ingest unaffected), config
errors that name the key without echoing secrets, and ``maskwatch dashboard notify-test``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import PREFIX, event, jpeg, maskwatch, raw, topic, write_config
from helpers.net import free_port, wait_for
from helpers.webhook import Receiver
from sqlalchemy import select

from dashboard.alerts_settings import NotificationsConfig
from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.models import Notification, NotificationAttempt
from dashboard.notifier import Notifier, scrub, send_test_now
from dashboard.settings import parse_settings
from edge_agent.alerts_config import ScheduleConfig
from edge_agent.config import ConfigError


def ncfg(url: str, **rule: Any) -> NotificationsConfig:
    cfg = parse_settings({"notifications": {
        "enabled": True, "base_url": "http://dash.example:8080",
        "channels": {"hook": {"url": url}},
        "rules": [{"name": "all", "channels": ["hook"], **rule}],
        "retry": {"attempts": 3, "backoff_s": 0.2, "max_backoff_s": 1, "timeout_s": 2},
    }})
    return cfg.notifications


def setup(tmp_path: Path, cfg: NotificationsConfig) -> tuple[Ingester, Notifier]:
    engine = make_engine(f"sqlite:///{tmp_path / 'dash.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snapshots", PREFIX)
    n = Notifier(engine, cfg, tmp_path / "snapshots", poll_s=0.2)
    ing.attach_notifier(n)
    return ing, n


def violation(eid: str, camera: str = "door", **kw: Any) -> list[Received]:
    return [Received(topic("snapshot", camera, event_id=eid), jpeg(text=eid), 1, 1),
            Received(topic("event", camera), raw(event(eid, camera, snapshot=topic("snapshot", camera,
                                                                                   event_id=eid), **kw)), 2, 1)]


def rows(ing: Ingester) -> list[Notification]:
    from sqlalchemy.orm import Session

    with Session(ing.engine) as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def attempts(ing: Ingester) -> list[NotificationAttempt]:
    from sqlalchemy.orm import Session

    with Session(ing.engine) as s:
        return list(s.scalars(select(NotificationAttempt).order_by(NotificationAttempt.id)))


# ------------------------------------------------------------------ schedules (pure)
@pytest.mark.parametrize(("hours", "days", "local", "active"), [
    ([], ["mon"], "2026-12-01 03:00", True),                      # no hours: always
    (["08:00-18:00"], None, "2026-12-01 07:59", False),
    (["08:00-18:00"], None, "2026-12-01 08:00", True),
    (["08:00-18:00"], None, "2026-12-01 18:00", False),
    (["22:00-06:00"], ["mon"], "2026-11-30 23:30", True),         # Monday evening
    (["22:00-06:00"], ["mon"], "2026-12-01 05:59", True),         # Tuesday morning belongs to Monday's span
    (["22:00-06:00"], ["mon"], "2026-12-01 23:30", False),        # Tuesday evening: not a Monday span
    (["00:00-24:00"], ["sat", "sun"], "2026-12-05 12:00", True),
    (["00:00-24:00"], ["sat", "sun"], "2026-12-04 12:00", False),
])
def test_schedule_spans_in_the_site_time_zone(hours, days, local, active) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    s = ScheduleConfig(hours=hours, **({"days": days} if days else {}))
    when = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Asia/Jakarta"))
    assert s.is_active(when.astimezone(UTC), "Asia/Jakarta") is active


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"channels": {"a": {"url": "nosuch://s3cr3t-token@host"}}}, "notifications.channels.a.url", "apprise"),
    ({"channels": {"a": {"url": "no-scheme-s3cr3t-token"}}}, "notifications.channels.a.url", "SCHEME://"),
    ({"channels": {}, "rules": [{"name": "r", "channels": ["x"]}]}, "rules[0].channels", "unknown channel"),
    ({"rules": [{"name": "r", "channels": ["a"], "verdicts": ["hat"]}],
      "channels": {"a": {"url": "json://127.0.0.1:9/x"}}}, "notifications.rules[0].verdicts", "allowed"),
    ({"rules": [{"name": "r", "channels": ["a"], "schedule": {"hours": ["8-18"]}}],
      "channels": {"a": {"url": "json://127.0.0.1:9/x"}}}, "notifications.rules[0].schedule.hours", "HH:MM"),
])
def test_bad_notification_config_names_the_key_and_hides_the_secret(data, key, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        parse_settings({"notifications": data})
    assert key in str(err.value) and words in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_scrub_removes_every_part_of_the_url() -> None:
    url = "tgram://123456:AAE-secret-token/987654321"
    text = scrub("failed to send to tgram://123456:AAE-secret-token/987654321 (chat 987654321, AAE-secret-token)", url)
    assert "secret" not in text and "987654321" not in text


# ------------------------------------------------------------------ delivery through apprise
def test_a_committed_event_reaches_a_webhook_with_snapshot_and_link(tmp_path: Path, receiver: Receiver) -> None:
    ing, n = setup(tmp_path, ncfg(receiver.url()))
    n.start()
    try:
        ing.process(violation("ev1"))
        wait_for(lambda: receiver.requests, 15, what="the webhook")
    finally:
        n.stop()
    req = receiver.requests[0]
    assert req["path"] == "/hook"
    body = req["json"]
    assert "no mask" in body["title"] and "hq/door" in body["title"]
    assert "http://dash.example:8080/events/ev1" in body["message"]
    assert [a["mimetype"] for a in body["attachments"]] == ["image/jpeg"]
    (row,) = rows(ing)
    assert (row.status, row.tries, row.kind) == ("sent", 1, "event")
    (att,) = attempts(ing)
    assert att.ok and att.error is None


def test_email_reaches_a_real_smtp_server(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            got.append(envelope)
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=maskwatch@example.com&to=security@example.com&mode=insecure"
        ing, n = setup(tmp_path, ncfg(url))
        ing.process(violation("ev-mail"))
        wait_for(lambda: n.run_once() or got, 20, interval=0.3, what="the e-mail")
    finally:
        ctl.stop()
    env = got[0]
    assert env.rcpt_tos == ["security@example.com"]
    text = env.content.decode(errors="replace")
    assert "no mask" in text and "image/jpeg" in text  # the snapshot is attached
    assert rows(ing)[0].status == "sent"


def test_a_channel_that_is_down_is_retried_recorded_and_does_not_slow_ingest(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens here
    ing, n = setup(tmp_path, ncfg(f"json://127.0.0.1:{dead}/hook", cooldown_s=0))
    n.start()
    try:
        t0 = time.monotonic()
        for i in range(10):
            ing.process(violation(f"down{i}"))
        ingest_s = time.monotonic() - t0
        wait_for(lambda: all(r.status == "failed" for r in rows(ing)), 60, interval=0.3, what="all tries")
    finally:
        n.stop()
    assert ing.counters["event"] == 10 and ingest_s < 5  # stored while the channel is down
    rs = rows(ing)
    assert len(rs) == 10 and all(r.tries == 3 for r in rs)
    atts = attempts(ing)
    assert len(atts) == 30 and not any(a.ok for a in atts)
    assert all(a.error for a in atts)
    # back-off: the second and third tries of one notification are further apart than the first two
    first = [a.time for a in atts if a.notification_id == rs[0].id]
    assert first[2] - first[1] >= first[1] - first[0] - timedelta(milliseconds=50)


def test_a_channel_that_recovers_gets_the_message(tmp_path: Path) -> None:
    r = Receiver(status=500)
    try:
        ing, n = setup(tmp_path, ncfg(r.url()))
        ing.process(violation("later"))
        wait_for(lambda: n.run_once() or len(r.requests) >= 1, 15, interval=0.1, what="first try")
        assert rows(ing)[0].status == "pending" and rows(ing)[0].last_error
        r.status = 200
        wait_for(lambda: n.run_once() or rows(ing)[0].status == "sent", 15, interval=0.2, what="the retry")
    finally:
        r.close()
    assert [a.ok for a in attempts(ing)] == [False, True]


def test_a_flood_is_held_by_the_cool_down_and_summarised_in_one_digest(tmp_path: Path, receiver: Receiver) -> None:
    ing, n = setup(tmp_path, ncfg(receiver.url(), cooldown_s=60))
    for i in range(20):
        ing.process(violation(f"flood{i}"))
    ing.process(violation("other-cam", camera="gate"))  # another camera has its own cool-down
    now = datetime.now(UTC)
    n.run_once(now)
    wait_for(lambda: n.run_once(now) or len(receiver.requests) >= 2, 15, interval=0.2, what="first two")
    statuses = [r.status for r in rows(ing)]
    assert statuses.count("sent") == 2 and statuses.count("held") == 19
    n.run_once(now + timedelta(seconds=30))  # still cooling down: nothing more
    assert len(receiver.requests) == 2
    n.run_once(now + timedelta(seconds=61))
    wait_for(lambda: len(receiver.requests) >= 3, 15, what="the digest")
    digest = receiver.requests[2]["json"]
    assert "19 violations at hq/door" in digest["title"]
    assert [r.status for r in rows(ing)].count("digested") == 19
    n.run_once(now + timedelta(seconds=200))
    assert len(receiver.requests) == 3  # nothing held any more: no empty digest


def test_rules_filter_by_camera_verdict_and_active_hours(tmp_path: Path, receiver: Receiver) -> None:
    ing, _ = setup(tmp_path, ncfg(receiver.url(), cameras=["door"], verdicts=["mask_incorrect"], cooldown_s=0,
                                  schedule={"hours": ["00:00-24:00"]}))
    ing.process(violation("a", camera="gate", verdict="mask_incorrect"))
    ing.process(violation("b", camera="door", verdict="without_mask"))
    ing.process(violation("c", camera="door", verdict="mask_incorrect"))
    assert [r.event_id for r in rows(ing)] == ["c"]
    ing2, _ = setup(tmp_path / "closed", ncfg(receiver.url(), schedule={"hours": ["00:00-00:01"],
                                                                         "days": ["mon"]}))
    ing2.process(violation("d", time=datetime(2026, 12, 1, 12, tzinfo=UTC).isoformat()))  # a Tuesday noon
    assert rows(ing2) == []


def test_a_replayed_event_is_not_notified_twice(tmp_path: Path, receiver: Receiver) -> None:
    ing, _ = setup(tmp_path, ncfg(receiver.url(), cooldown_s=0))
    ing.process(violation("same"))
    ing.process(violation("same"))
    assert len(rows(ing)) == 1


def test_notify_test_command_reports_each_channel(tmp_path: Path, receiver: Receiver) -> None:
    import yaml

    cfg_path = write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'd.sqlite3'}",
                            snapshot_dir=tmp_path / "snap")
    data = yaml.safe_load(cfg_path.read_text())
    dead = free_port()
    data["notifications"] = {"enabled": True, "channels": {
        "good": {"url": "${HOOK_URL}"}, "bad": {"url": f"json://127.0.0.1:{dead}/x"}}}
    cfg_path.write_text(yaml.safe_dump(data))
    env = {"HOOK_URL": receiver.url("secret-path-123")}
    assert maskwatch("dashboard", "db-upgrade", "--config", str(cfg_path), env=env).returncode == 0
    r = maskwatch("dashboard", "notify-test", "--config", str(cfg_path), env=env)
    assert r.returncode == 1, r.stderr
    assert "good: sent" in r.stdout and "bad: failed" in r.stdout
    assert "secret-path-123" not in r.stdout + r.stderr
    assert receiver.requests and "test" in receiver.requests[0]["json"]["title"].lower()
    r = maskwatch("dashboard", "notify-test", "--config", str(cfg_path), "--channel", "good", env=env)
    assert r.returncode == 0 and "good: sent" in r.stdout and "bad" not in r.stdout


def test_send_test_now_records_the_attempt(tmp_path: Path, receiver: Receiver) -> None:
    ing, n = setup(tmp_path, ncfg(receiver.url()))
    out = send_test_now(ing.engine, n.cfg, tmp_path)
    assert out == [("hook", "sent", "")]
    assert rows(ing)[0].kind == "test" and attempts(ing)[0].ok


# ------------------------------------------------------------------ the real ingest process
@pytest.mark.integration
@pytest.mark.timeout(120)
def test_ingest_process_notifies_and_exposes_metrics(tmp_path: Path, receiver: Receiver) -> None:
    import urllib.request

    import paho.mqtt.client as mqtt
    import yaml
    from helpers import mosquitto as mq
    from helpers.stack import IngestProcess, write_dashboard_config
    from prometheus_client.parser import text_string_to_metric_families

    if not mq.available():
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    broker = mq.Mosquitto(tmp_path / "broker", persistence=False).start()
    metrics_port = free_port()
    path = write_dashboard_config(tmp_path / "dash", broker.port, metrics_port=metrics_port)
    data = yaml.safe_load(path.read_text())
    data["notifications"] = {"enabled": True, "channels": {"hook": {"url": "${HOOK}"}},
                             "rules": [{"name": "all", "channels": ["hook"], "cooldown_s": 0}]}
    path.write_text(yaml.safe_dump(data))
    ingest = IngestProcess(path, env={"HOOK": receiver.url("s3cret-hook")}).start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-notify", protocol=mqtt.MQTTv5)
    try:
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        wait_for(lambda: "subscribed (" in ingest.output(), 30, what="ingest subscribed")
        for i in range(3):
            for item in violation(f"p{i}"):
                pub.publish(item.topic, item.payload, qos=1).wait_for_publish(10)
        pub.publish(topic("event"), b"{not json", qos=1).wait_for_publish(10)
        wait_for(lambda: len(receiver.requests) >= 3, 30, what="three webhooks")

        def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:  # noqa: S310
                text = r.read().decode()
            return {(s.name, tuple(sorted(s.labels.items()))): s.value
                    for f in text_string_to_metric_families(text) for s in f.samples}

        wait_for(lambda: scrape().get(("maskwatch_notifications_total", (("outcome", "sent"),))) == 3, 10,
                 what="sent counter")
        m = scrape()
    finally:
        pub.disconnect()
        pub.loop_stop()
        rc = ingest.stop()
        broker.stop()
    assert rc == 0, ingest.output()
    assert m[("maskwatch_ingest_messages_total", (("kind", "event"),))] == 3
    assert m[("maskwatch_ingest_messages_total", (("kind", "snapshot"),))] == 3
    assert sum(v for (n, lab), v in m.items() if n == "maskwatch_ingest_rejected_total") == 1
    assert m[("maskwatch_ingest_db_write_seconds_count", ())] >= 1
    assert m[("maskwatch_notifications_waiting", (("status", "pending"),))] == 0
    assert "s3cret-hook" not in ingest.output()  # the URL (a secret) is never logged
    assert {json.loads(json.dumps(r["json"]))["attachments"][0]["mimetype"] for r in receiver.requests} == {"image/jpeg"}


def test_a_camera_switched_to_notifications_off_is_not_notified(tmp_path: Path, receiver: Receiver) -> None:
    from dashboard.models import Camera

    ing, _ = setup(tmp_path, ncfg(receiver.url(), cooldown_s=0))
    state = "maskwatch/hq/camera/door/notifications/state"
    ing.process([Received(state, b"OFF", 1, 1), Received("maskwatch/hq/camera/door/enabled/state", b"ON", 2, 1)])
    ing.process(violation("muted"))
    assert rows(ing) == []
    ing.process([Received(state, b"ON", 3, 1)])
    ing.process(violation("heard"))
    assert [r.event_id for r in rows(ing)] == ["heard"]
    ing.process([Received("maskwatch/hq/camera/door/enabled/set", b"OFF", 4, 1),  # commands: not stored
                 Received("maskwatch/hq/camera/door/ha/state", b"{}", 5, 1),
                 Received(state, b"bogus", 6, 1)])
    assert ing.counters["ignored"] == 2 and ing.counters["rejected_invalid_payload"] == 1
    from sqlalchemy.orm import Session

    with Session(ing.engine) as s:
        cam = s.scalars(select(Camera)).one()
    assert cam.notifications_enabled is True and cam.detection_enabled is True


def test_two_notifiers_on_one_queue_send_each_message_once(tmp_path: Path, receiver: Receiver) -> None:
    """Several ingest processes (a shared subscription) share the notifications table: a row is leased
    before its try, so each message goes out once."""
    ing, n1 = setup(tmp_path, ncfg(receiver.url(), cooldown_s=0))
    n2 = Notifier(ing.engine, n1.cfg, tmp_path / "snapshots", poll_s=0.05)
    for i in range(8):
        ing.process(violation(f"pair{i}"))
    n1.poll_s = 0.05
    n1.start()
    n2.start()
    try:
        wait_for(lambda: all(r.status == "sent" for r in rows(ing)), 30, what="all sent")
        time.sleep(0.5)
    finally:
        n1.stop()
        n2.stop()
    assert len(receiver.requests) == 8 and len(attempts(ing)) == 8


def test_a_failing_rule_never_costs_the_event(tmp_path: Path, receiver: Receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ing, _ = setup(tmp_path, ncfg(receiver.url()))

    def broken(*a: Any, **k: Any) -> None:
        raise KeyError("a bug in the rules")

    monkeypatch.setattr("dashboard.notify.matches", broken)
    ing.process(violation("kept"))
    assert ing.counters["event"] == 1 and ing.counters["notify_plan_error"] == 1
    assert rows(ing) == []
