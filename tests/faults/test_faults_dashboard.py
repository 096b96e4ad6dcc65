"""Dashboard ingest under storage faults, against a real mosquitto and a real SQLite file:

- the database is locked by another writer for longer than the busy timeout: the ingest reports it, keeps
  running, and stores every message once the lock goes (nothing acknowledged before it is stored);
- the snapshot disk is full (a 64 KiB tmpfs): events are still stored, every lost snapshot is counted and
  logged with its event id, and the ingest keeps running.

The ingest runs in-process so that the test can give SQLite a 0.3 s busy timeout instead of the
production 30 s; everything else (MQTT v5 session, manual acks, batching, the store) is the real code.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from dashboard_support import event, jpeg, raw, topic
from helpers import mosquitto as mq
from helpers.mosquitto import broker_at
from helpers.net import wait_for
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, MqttIngest
from dashboard.models import Event, Snapshot

pytestmark = [
    pytest.mark.integration,
    pytest.mark.fault,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not mq.available(), reason="mosquitto not installed (apt-get install mosquitto)"),
]


def engine_with_busy_timeout(db: Path, ms: int):  # noqa: ANN201
    engine = make_engine(f"sqlite:///{db}")

    @sa_event.listens_for(engine, "connect")
    def _short(dbapi_conn, _record):  # noqa: ANN001 - runs after make_engine's own pragmas
        dbapi_conn.execute(f"PRAGMA busy_timeout={ms}")

    upgrade(engine)
    return engine


def count(engine, model) -> int:  # noqa: ANN001
    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def start_ingest(engine, snapshots: Path, port: int) -> MqttIngest:  # noqa: ANN001
    ing = MqttIngest(Ingester(engine, snapshots, "maskwatch", name="fault"), broker_at(port),
                     client_id=f"fault-ingest-{uuid.uuid4().hex[:6]}", counters_every_s=3600)
    ing.start()
    assert ing.subscribed.wait(10), "ingest did not subscribe"
    return ing


def test_database_locked_longer_than_busy_timeout_loses_nothing(tmp_path: Path, broker, pub,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "dash.sqlite3"
    engine = engine_with_busy_timeout(db, 300)
    ing = start_ingest(engine, tmp_path / "snaps", broker.port)
    locker = sqlite3.connect(db, isolation_level=None)
    try:
        for i in range(5):
            pub(topic("event"), raw(event(f"before-{i}")))
        wait_for(lambda: count(engine, Event) == 5, 20, what="first events stored")
        locker.execute("BEGIN EXCLUSIVE")  # another writer holds the database (a long migration, a backup)
        with caplog.at_level(logging.WARNING):
            for i in range(20):
                pub(topic("event"), raw(event(f"locked-{i}")))
            pub(topic("snapshot", event_id="locked-0"), jpeg())
            wait_for(lambda: any("locked" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING),
                     20, what="the lock reported in the log")
            wait_for(lambda: ing.ingester.counters["store_retry"] >= 2, 20, what="a retry while locked")
            assert ing._writer is not None and ing._writer.is_alive()
            locker.execute("ROLLBACK")
            wait_for(lambda: count(engine, Event) == 25 and count(engine, Snapshot) == 1, 30,
                     what="every message stored after the lock went")
        c = ing.ingester.counters
        assert not c["store_error"], f"messages given up: {dict(c)}"
        assert c["event"] == 25 and c["snapshot"] == 1
        assert ing._writer.is_alive()
        print(f"database locked: {c['store_retry']} batch retries reported, then all 25 events and the snapshot stored")
    finally:
        locker.close()
        ing.stop()
        engine.dispose()


@pytest.fixture
def full_disk(tmp_path: Path):
    mnt = tmp_path / "snapshots"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, timeout=10)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def noisy_jpeg(seed: int) -> bytes:
    import cv2

    img = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), np.uint8)  # ~17 KB: 2-3 fit in 64 KiB
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def test_snapshot_disk_full_keeps_events_and_reports_every_lost_snapshot(tmp_path: Path, broker, pub, full_disk,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_with_busy_timeout(tmp_path / "dash.sqlite3", 5000)
    ing = start_ingest(engine, full_disk, broker.port)
    try:
        with caplog.at_level(logging.WARNING):
            for i in range(6):
                pub(topic("event"), raw(event(f"e{i}")))
                pub(topic("snapshot", event_id=f"e{i}"), noisy_jpeg(i))
            wait_for(lambda: count(engine, Event) == 6, 30, what="every event stored")
            c = ing.ingester.counters
            wait_for(lambda: c["snapshot"] + c["store_error"] >= 6, 30, what="every snapshot stored or counted")
        stored = count(engine, Snapshot)
        lost = 6 - stored
        assert lost >= 1, "the 64 KiB disk should not hold six ~17 KB snapshots"
        assert stored >= 1, "the snapshots that fit are stored"
        assert c["store_error"] == lost, f"each lost snapshot counted: {dict(c)}"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("No space left" in m for m in errors), errors
        assert ing._writer is not None and ing._writer.is_alive()
        leftovers = [p.name for p in full_disk.rglob("*.tmp")]
        assert not leftovers, "a failed write must not leave a partial file filling the disk"
        print(f"snapshot disk full: 6 events stored, {stored} snapshots stored, {lost} lost, counted and logged")
    finally:
        ing.stop()
        engine.dispose()
