"""Retention per kind (docs/privacy.md): one run of the real ``maskwatch dashboard purge`` against a real
SQLite file, a snapshot directory, a preview directory and a real mosquitto holding retained messages. It
removes exactly what each kind's retention has expired (files, rows, stale previews, retained images) and
nothing else."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import yaml
from dashboard_support import event, jpeg, maskwatch, raw, status, topic
from helpers import mosquitto
from helpers.mosquitto import Mosquitto, broker_at
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import access_log
from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, MqttIngest
from dashboard.messages import classify
from dashboard.models import AccessLog, Event, HourlyCount, Snapshot
from dashboard.previews import PreviewStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120),
              pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed")]


def publish_retained(port: int, items: list[tuple[str, bytes]], auth: tuple[str, str] | None = None) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="retainer")
    if auth:
        c.username_pw_set(*auth)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for t, payload in items:
        c.publish(t, payload, qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def retained(port: int, auth: tuple[str, str] | None = None) -> dict[str, bytes]:
    """What the broker holds retained under maskwatch/#, as a new subscriber sees it."""
    got: dict[str, bytes] = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"peek-{time.monotonic_ns()}")
    if auth:
        c.username_pw_set(*auth)
    c.on_connect = lambda cl, *_: cl.subscribe("maskwatch/#", qos=1)
    c.on_message = lambda _c, _u, m: got.__setitem__(m.topic, bytes(m.payload)) if m.retain else None
    c.connect("127.0.0.1", port)
    c.loop_start()
    time.sleep(0.7)
    c.disconnect()
    c.loop_stop()
    return got


def test_a_retention_run_removes_expired_files_rows_and_retained_images_and_nothing_else(tmp_path, broker):
    now = datetime.now(UTC)
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    db_url = f"sqlite:///{tmp_path / 'dash.sqlite3'}"
    engine = make_engine(db_url)
    upgrade(engine)
    snaps, live = tmp_path / "snaps", tmp_path / "live"
    ing = Ingester(engine, snaps, "maskwatch", preview_dir=live)
    for eid, age in (("e40", 40), ("e10", 10), ("e1", 1)):  # received that long ago (retention's time basis)
        ing.store.write([classify("maskwatch", topic("event"), raw(event(eid, time=days(age).isoformat())))],
                        now=days(age))
    for eid, age in (("e10", 10), ("e1", 1)):  # e10's image is past 7 days, its event is not past 30
        ing.store.write([classify("maskwatch", topic("snapshot", event_id=eid), jpeg())], now=days(age))
    files = {s.event_id: snaps / s.path for s in Session(engine).scalars(select(Snapshot))}
    for user, age in (("old-viewer", 100), ("recent-viewer", 10)):
        access_log.write(engine, user, access_log.SNAPSHOT, "e10", now=days(age))
    previews = PreviewStore(live)
    previews.put("hq", "door", jpeg())
    previews.put("hq", "lobby", jpeg())
    stale = time.time() - 3600
    os.utime(previews.path("hq", "lobby"), (stale, stale))

    status_json = raw(status())
    publish_retained(broker.port, [
        (topic("snapshot", event_id="e1"), jpeg()),  # an image must never stay retained
        (topic("preview"), jpeg()),
        ("maskwatch/hq/ha/door/latest_violation", jpeg()),  # not an agent topic, but a JPEG
        (topic("status"), status_json),  # not an image: kept
        (topic("available"), b"online"),
    ])
    assert len(retained(broker.port)) == 5

    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "dashboard": {"database_url": db_url, "snapshot_dir": str(snaps), "preview_dir": str(live),
                      "retention": {"snapshots_days": 7, "events_days": 30, "statistics_days": 20,
                                    "access_log_days": 90, "preview_max_age_s": 600}}}))
    r = maskwatch("dashboard", "purge", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "purged 1 snapshots (older than 7 days), 1 events" in r.stdout, r.stdout
    assert "1 access-log entries" in r.stdout and "1 stale previews" in r.stdout
    assert "cleared 3 retained images" in r.stdout, r.stdout

    with Session(engine) as db:
        assert sorted(db.scalars(select(Event.event_id))) == ["e1", "e10"]
        assert list(db.scalars(select(Snapshot.event_id))) == ["e1"]
        assert list(db.scalars(select(AccessLog.user))) == ["recent-viewer"]
        hours = sorted(h.hour for h in db.scalars(select(HourlyCount)))
        assert len(hours) == 2 and all(h > days(20) for h in hours)  # the 40-day-old hour went
    assert not files["e10"].exists() and files["e1"].exists()
    assert previews.get("hq", "door") is not None and previews.get("hq", "lobby") is None
    assert retained(broker.port) == {topic("status"): status_json, topic("available"): b"online"}

    r = maskwatch("dashboard", "purge", "--config", str(cfg))  # a second run has nothing left to do
    assert "purged 0 snapshots" in r.stdout and "cleared 0 retained images" in r.stdout, r.stdout


def test_the_ingest_clears_a_retained_image_it_receives(tmp_path, broker):
    engine = make_engine(f"sqlite:///{tmp_path / 'dash.sqlite3'}")
    upgrade(engine)
    publish_retained(broker.port, [(topic("preview"), jpeg()), (topic("status"), raw(status()))])
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", preview_dir=tmp_path / "live")
    m = MqttIngest(ing, broker_at(broker.port), client_id="ing-retained")
    m.start()
    try:
        assert m.subscribed.wait(10)
        from helpers.net import wait_for

        wait_for(lambda: ing.counters["retained_image_cleared"] == 1, 10, what="the retained preview cleared")
        wait_for(lambda: topic("preview") not in retained(broker.port), 10, what="the broker forgets it")
        wait_for(lambda: ing.counters["image_cleared_seen"] == 1, 10, what="the ingest seeing the empty message")
        assert ing.counters["rejected"] == 0  # ...which is not a malformed image
    finally:
        m.stop()
    assert topic("status") in retained(broker.port)


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="needs mosquitto_passwd")
def test_the_installed_acl_lets_the_dashboard_clear_retained_images_and_nothing_more(tmp_path):
    """The installer's ACL template (deploy/mosquitto/maskwatch.acl.in), rendered: the agent leaves a
    retained image, the dashboard's account clears it, but may not publish anything else."""
    from dashboard.broker_retention import clear_retained_images

    # the broker as installed (tests/helpers/mosquitto.py renders deploy/install.sh's files), its own users
    broker = Mosquitto(tmp_path / "broker", anonymous=False, site="hq", agent="pi-1").start()
    agent, dash = broker.users["agent"], broker.users["dashboard"]
    try:
        publish_retained(broker.port, [(topic("preview"), jpeg()), (topic("status"), raw(status()))], auth=agent)
        publish_retained(broker.port, [(topic("status"), b"forged")], auth=dash)  # denied
        held = retained(broker.port, auth=dash)  # (agents read no camera topics back: per-agent ACLs)
        assert set(held) == {topic("preview"), topic("status")} and held[topic("status")] != b"forged"
        assert clear_retained_images(broker_at(broker.port), prefix="maskwatch", username=dash[0],
                                     password=dash[1]) == 1
        held = retained(broker.port, auth=dash)
        assert set(held) == {topic("status")}
    finally:
        broker.stop()
