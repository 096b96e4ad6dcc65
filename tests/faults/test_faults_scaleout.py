"""Scale-out on the shipped configuration: two ``maskwatch dashboard ingest`` processes on one MQTT 5 shared
subscription (``dashboard.ingest_group``) into one PostgreSQL database, the rendered mosquitto restarted in
the middle of the agent's drain: every event stored exactly once.

Still expected to fail now and then on Debian bookworm's mosquitto 2.0.11, which does not restore shared
subscriptions from its persistence store. Two losses were seen:

- what the agent published between the broker's restart and the workers' re-subscription matched no
  subscriber: 100 of 1,000 on the old agent. mosquitto PUBACKs those with MQTT 5 reason code 0x10 "No matching
  subscribers"; the agent now keeps such events queued and re-sends them (``no_subscriber_retries``), so this
  loss is gone in the runs where it was measured (3 and 59 re-sent, 0 lost);
- a few events (2-3 of 1,000, contiguous, in about 1 run in 4 with the new agent and in every one of 3 runs with
  the old one) that the broker acknowledged with success and never delivered to a worker: they were in the
  broker's custody, not the agent's, and the agent cannot see it. One run with the new agent lost 100, before
  the test printed which events and how many re-sends: not explained. Causes not identified.

A single ingest (a plain persistent subscription, the installed default) loses nothing across the same
restart (tests/faults/test_faults_custody.py). docs/mqtt.md says so; the test stays to show when a broker fixes it.
"""

from __future__ import annotations

import contextlib
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


@pytest.mark.xfail(reason="mosquitto 2.0.11 does not restore shared subscriptions after a restart; a few events it "
                          "acknowledged are still lost now and then (docs/mqtt.md, Scale-out)", strict=False)

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
            wait_for(lambda w=w: "subscribed (" in w.output(), 90, what=f"{name} subscribed")
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

        with contextlib.suppress(AssertionError):  # the assertions below say what is missing
            wait_for(lambda: len(set(stored())) >= N, 30, what="every event in PostgreSQL")
        time.sleep(2)
        got = stored()
        missing = [i for i, eid in enumerate(ids) if eid not in set(got)]
        print(f"scale-out: {len(set(got))} of {N} events stored ({len(got) - len(set(got))} twice); "
              f"resent after 'no matching subscribers': {box.counter('no_subscriber_retries')}; "
              f"missing: {missing[:1]}..{missing[-1:]} ({len(missing)})")
        assert box.stats().dead_letters == 0
        assert len(got) == len(set(got)), "an event stored twice"
        assert set(got) == set(ids), f"{N - len(set(got))} of {N} events lost across the broker restart"
    finally:
        if sender is not None:
            sender.stop()
        if link is not None:
            link.stop()
        for w in workers:
            w.stop()
        broker.stop()
        pg.stop()
