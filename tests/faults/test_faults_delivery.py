"""Delivery under faults, end to end into the dashboard database: agent process -> mosquitto ->
``maskwatch dashboard ingest`` process -> SQLite.

- the broker is down for 30 s, then back: every event the agent produced is in the database exactly once;
- the agent is SIGKILLed mid-stream (with events queued during a broker outage, and again with messages in
  flight), then restarted: the queued events arrive, none twice.

The agent is the real runtime in its own process (outbox, MQTT link, signals, /healthz) with scripted
analysis (tests/helpers/fake_agent_main.py) so that violations come at a steady rate whatever the load.
A persistent MQTT subscriber is an independent witness of what crossed the broker.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import mosquitto
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import free_port, wait_for
from helpers.stack import AgentProcess, IngestProcess, query, write_agent_config, write_dashboard_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.fault,
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]

OUTAGE_S = 30.0


@pytest.fixture
def ingest(tmp_path: Path, broker: Mosquitto):
    p = IngestProcess(write_dashboard_config(tmp_path / "dash", broker.port)).start()
    wait_for(lambda: "subscribed (" in p.output(), 60, what="ingest subscribed")
    yield p
    p.stop()
    assert "Traceback" not in p.output(100_000), p.output()


@pytest.fixture
def witness(broker: Mosquitto):
    c = Collector(broker.port, "maskwatch/+/camera/+/event", persistent=True).start()
    yield c
    c.stop()


def agent_config(tmp_path: Path, port: int) -> tuple[Path, int]:
    health = free_port()
    cam = {"name": "door", "source": {"type": "demo", "fps": 10, "width": 640, "height": 360}, "detect_fps": 5}
    cfg = write_agent_config(tmp_path / "agent", port, [cam], health, detector={"type": "fake"},
                             tracker={"max_age_s": 0.3}, preview={"enabled": False})
    return cfg, health


def db_ids(ingest: IngestProcess) -> list[str]:
    return [e[0] for e in ingest.events()]


def queued_event_ids(queue: Path) -> set[str]:
    return {json.loads(p)["event_id"] for (p,) in query(queue, "SELECT payload FROM outbox WHERE topic LIKE '%/event'")}


def outbox_rows(queue: Path) -> int:
    return int(query(queue, "SELECT COUNT(*) FROM outbox")[0][0])


def witnessed(col: Collector) -> list[str]:
    return [json.loads(m.payload)["event_id"] for m in col.on("/event")]


def produced(agent: AgentProcess) -> int:
    """Violations the agent has put in its outbox (its /healthz); -1 while it is starting."""
    h = agent.try_health()
    return -1 if h is None else sum(c["events"] for c in h["cameras"].values())


@pytest.mark.timeout(180)
def test_broker_down_30s_then_back_every_event_once_in_the_database(tmp_path: Path, broker: Mosquitto,
                                                                     ingest: IngestProcess,
                                                                     witness: Collector) -> None:
    config, health = agent_config(tmp_path, broker.port)
    agent = AgentProcess(config, health, scripted=True).start()
    try:
        wait_for(lambda: len(db_ids(ingest)) >= 2, 60, what="first events in the database")
        broker.stop()
        t_down = time.monotonic()
        wait_for(lambda: not agent.health()["mqtt_connected"], 15, what="agent notices the outage")
        before = produced(agent)
        while time.monotonic() - t_down < OUTAGE_S:
            assert agent.alive, agent.output()
            time.sleep(0.5)
        during = produced(agent) - before
        pending = agent.health()["queue"]["pending"]
        stored_during = len(db_ids(ingest))
        broker.start()
        t_up = time.monotonic()
        wait_for(lambda: agent.health()["queue"]["pending"] == 0, 30, what="agent outbox drained")
        agent_s = time.monotonic() - t_up
        total = produced(agent)
        wait_for(lambda: len(db_ids(ingest)) >= total, 90, what="every event in the database")
        db_s = time.monotonic() - t_up
    finally:
        assert agent.stop() == 0, agent.output()
    assert outbox_rows(config.parent / "queue.sqlite3") == 0, "the clean stop left unacknowledged messages"
    wait_for(lambda: set(db_ids(ingest)) >= set(witnessed(witness)), 30, what="last events stored")
    time.sleep(1.0)  # a duplicate would arrive now
    ids = db_ids(ingest)
    assert during >= 8, f"only {during} events during the outage"
    assert pending >= during, "events produced during the outage were queued"
    assert len(ids) == len(set(ids)), "an event is stored twice"
    assert set(ids) == set(witnessed(witness)), "database and broker disagree"
    assert len(ids) >= total
    snaps = query(ingest.db, "SELECT COUNT(*) FROM snapshots")[0][0]
    assert snaps == len(ids), "every event's snapshot is stored"
    dupes = ingest.counters().get("event_duplicate", 0)
    print(f"broker down {OUTAGE_S:.0f} s: {during} events queued ({stored_during} stored before); after its "
          f"return the agent's outbox drained in {agent_s:.1f} s and the database had all {total} in "
          f"{db_s:.1f} s; {len(ids)} events stored once each, {snaps} snapshots, {dupes} re-deliveries deduped")


@pytest.mark.timeout(150)
def test_agent_sigkilled_mid_stream_and_restarted_delivers_its_queue_once(tmp_path: Path, broker: Mosquitto,
                                                                           ingest: IngestProcess,
                                                                           witness: Collector) -> None:
    config, health = agent_config(tmp_path, broker.port)
    queue = config.parent / "queue.sqlite3"
    agent = AgentProcess(config, health, scripted=True).start()
    try:
        wait_for(lambda: len(db_ids(ingest)) >= 2, 60, what="first events in the database")
        # 1) killed with a backlog: events queued while the broker is away
        broker.stop()
        wait_for(lambda: len(queued_event_ids(queue)) >= 4, 30, what="events queued during the outage")
        agent.kill()
        queued = queued_event_ids(queue)
        broker.start()
        agent = AgentProcess(config, health, scripted=True).start()
        t0 = time.monotonic()
        wait_for(lambda: queued <= set(db_ids(ingest)), 60, what="the dead agent's queue in the database")
        backlog_s = time.monotonic() - t0
        # 2) killed again while streaming with the broker up (messages in flight, not yet acknowledged)
        n = len(db_ids(ingest))
        wait_for(lambda: len(db_ids(ingest)) >= n + 2, 30, what="streaming again")
        agent.kill()
        left = queued_event_ids(queue)
        agent = AgentProcess(config, health, scripted=True).start()
        wait_for(lambda: left <= set(db_ids(ingest)), 60, what="in-flight events after the second restart")
        wait_for(lambda: produced(agent) >= 2, 30, what="the restarted agent producing")
    finally:
        assert agent.stop() == 0, agent.output()
    assert outbox_rows(queue) == 0
    wait_for(lambda: set(db_ids(ingest)) >= set(witnessed(witness)), 30, what="last events stored")
    time.sleep(1.0)
    ids = db_ids(ingest)
    seen = witnessed(witness)
    assert len(ids) == len(set(ids)), "an event is stored twice"
    assert set(ids) == set(seen)
    counters = ingest.counters()
    print(f"SIGKILL with {len(queued)} queued events: all in the database {backlog_s:.1f} s after the restart; "
          f"second SIGKILL with {len(left)} unacknowledged; {len(ids)} events stored once each; "
          f"{len(seen) - len(set(seen))} re-sent over MQTT and deduped "
          f"(ingest duplicates counted: {counters.get('event_duplicate', 0)})")
