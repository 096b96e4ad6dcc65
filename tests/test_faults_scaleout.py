"""Scale-out on the shipped configuration: two ``maskwatch dashboard ingest`` processes on one MQTT 5 shared
subscription (``dashboard.ingest_group``) into one PostgreSQL database, the rendered mosquitto restarted in
the middle of the agent's drain: every event stored exactly once."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest
from dashboard_support import PostgresCluster, event, pg_binaries, raw
from helpers import mosquitto
from helpers.mosquitto import Mosquitto
from helpers.net import free_port, wait_for
from helpers.stack import IngestProcess, write_dashboard_config
from sqlalchemy import text

from dashboard.db import make_engine
from edge_agent.config import MQTTConfig
from edge_agent.core.topics import Topics
from edge_agent.mqtt_client import MqttLink, OutboxSender
from edge_agent.outbox import Outbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.fault,
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
    pytest.mark.skipif(pg_binaries() is None, reason="PostgreSQL server binaries not installed"),
]

N = 1000


def test_two_ingest_workers_share_the_load_into_postgresql_across_a_broker_restart(tmp_path: Path) -> None:
    pg = PostgresCluster(Path(tempfile.mkdtemp(prefix="mw-pg-")), free_port()).start()
    broker = Mosquitto(tmp_path / "broker", anonymous=False, site="hq", agent="pi-1").start()
    workers: list[IngestProcess] = []
    link = sender = None
    try:
        user, password = broker.users["dashboard"]
        for name in ("w1", "w2"):
            cfg = write_dashboard_config(tmp_path / name, broker.port, mqtt_username=user, mqtt_password=password,
                                         database_url=pg.url, ingest_group="dash")
            w = IngestProcess(cfg, client_id=f"ingest-{name}").start()
            workers.append(w)
            wait_for(lambda w=w: "subscribing" in w.output(), 90, what=f"{name} subscribed")
        time.sleep(1.0)
        agent_user, agent_pw = broker.users["agent"]
        box = Outbox(tmp_path / "queue.sqlite3")
        topics = Topics("maskwatch", "hq")
        ids = [uuid.uuid4().hex for _ in range(N)]
        for eid in ids:
            box.put(topics.camera("door", "event"), raw(event(eid)), qos=1)
        link = MqttLink(MQTTConfig(host="127.0.0.1", port=broker.port, username=agent_user, password=agent_pw,
                                   keepalive_s=5, reconnect_min_s=1, reconnect_max_s=2), "hq", "pi-1")
        sender = OutboxSender(box, link)
        sender.start()
        link.start()
        wait_for(lambda: box.pending() <= N * 2 // 3, 120, what="a third drained")
        broker.stop()  # mid-drain
        time.sleep(2)
        broker.start()
        wait_for(lambda: box.pending() == 0, 180, what="the agent's outbox drained")
        engine = make_engine(pg.url)

        def stored() -> list[str]:
            with engine.connect() as conn:
                return [r[0] for r in conn.execute(text("SELECT event_id FROM events"))]

        wait_for(lambda: len(set(stored())) >= N, 180, what="every event in PostgreSQL")
        time.sleep(2)
        got = stored()
        assert len(got) == len(set(got)) == N and set(got) == set(ids)
        with engine.connect() as conn:
            per_worker = dict(conn.execute(text(
                "SELECT ingester, SUM(value) FROM ingest_counters WHERE name = 'event' GROUP BY ingester")).all())
        print(f"scale-out: {N} events stored once each; per worker {per_worker}")
        assert box.stats().dead_letters == 0
    finally:
        if sender is not None:
            sender.stop()
        if link is not None:
            link.stop()
        for w in workers:
            w.stop()
        broker.stop()
        pg.stop()
