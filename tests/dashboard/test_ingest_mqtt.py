"""Ingest against a real mosquitto: storage, replay, retained status, shared subscriptions, a restart that
loses nothing, and the ``maskwatch dashboard ingest`` process itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from dashboard_support import REPO, event, jpeg, raw, stats, status, topic, write_config
from helpers import mosquitto as mq
from helpers.mosquitto import broker_at
from helpers.net import wait_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.ingest import Ingester, MqttIngest, Received
from dashboard.models import Agent, Camera, Event, IngestCounter, Snapshot

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mq.available(), reason="mosquitto not installed (apt-get install mosquitto)"),
]


def count(engine, model) -> int:
    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def start_ingest(engine, tmp_path, broker, **kw) -> MqttIngest:
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", name=kw.get("client_id", "ingest-test"))
    m = MqttIngest(ing, broker_at(broker.port), counters_every_s=0.5, **kw)
    m.start()
    assert m.subscribed.wait(10), "ingest did not subscribe"
    return m


def test_ingest_stores_everything_once(engine, tmp_path, broker, pub):
    pub.send(topic("status"), raw(status(state="offline")), retain=True)  # retained before the ingest starts
    pub.send(topic("available"), b"online", retain=True)
    m = start_ingest(engine, tmp_path, broker, client_id="ing-1")
    try:
        for i in range(30):
            pub.send(topic("event"), raw(event(f"m{i}")))
        pub.send(topic("snapshot", event_id="m3"), jpeg())
        pub.send(topic("stats"), raw(stats()))
        pub.send(topic("preview"), jpeg((1, 2, 3)), qos=0)
        for i in range(30):  # the agent replays its backlog
            pub.send(topic("event"), raw(event(f"m{i}")))
        wait_for(lambda: m.ingester.counters["event_duplicate"] == 30, 15, what="replayed events")
        assert count(engine, Event) == 30 and count(engine, Snapshot) == 1
        with Session(engine) as db:
            assert db.scalar(select(Camera.state)) == "offline"
            assert db.scalar(select(Agent.availability)) == "online"
        wait_for(lambda: m.ingester.previews.get("hq", "door") is not None, 10, what="preview")
        wait_for(lambda: count(engine, IngestCounter) > 0, 10, what="counters saved")
    finally:
        m.stop()


def test_shared_subscription_splits_the_load(engine, tmp_path, broker, pub):
    pub.send(topic("status"), raw(status()), retain=True)
    a = start_ingest(engine, tmp_path, broker, client_id="ing-a", group="dash")
    b = start_ingest(engine, tmp_path, broker, client_id="ing-b", group="dash")
    try:
        for i in range(200):
            pub.send(topic("event"), raw(event(f"s{i}")))
        wait_for(lambda: count(engine, Event) == 200, 20, what="200 events")
        got_a, got_b = (x.ingester.counters["event"] + x.ingester.counters["event_duplicate"] for x in (a, b))
        assert got_a + got_b == 200, (got_a, got_b)  # each message went to one member of the group
        assert got_a > 0 and got_b > 0
        # retained status is not sent to shared subscriptions: both ingesters subscribe to it directly
        assert a.ingester.counters["status"] >= 1 and b.ingester.counters["status"] >= 1
    finally:
        a.stop()
        b.stop()


def test_messages_sent_while_ingest_is_down_arrive_after_restart(engine, tmp_path, broker, pub):
    m = start_ingest(engine, tmp_path, broker, client_id="ing-persist")
    pub.send(topic("event"), raw(event("before")))
    wait_for(lambda: count(engine, Event) == 1, 10, what="first event")
    m.stop()
    for i in range(20):
        pub.send(topic("event"), raw(event(f"down{i}")))  # queued by the broker for the persistent session
    m2 = start_ingest(engine, tmp_path, broker, client_id="ing-persist")
    try:
        wait_for(lambda: count(engine, Event) == 21, 15, what="events queued while down")
    finally:
        m2.stop()


@pytest.mark.slow
def test_ingest_command_runs_and_stops_cleanly(engine, tmp_path, broker, pub):
    cfg = write_config(tmp_path / "config.yaml", db_url=str(engine.url), snapshot_dir=tmp_path / "snaps",
                       mqtt_port=broker.port)
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent", "dashboard", "ingest", "--config", str(cfg)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def stored() -> bool:
            pub.send(topic("event"), b"garbage")  # in order before the event: handled before it is stored
            pub.send(topic("event"), raw(event("cli-1")))
            return count(engine, Event) == 1

        wait_for(stored, 30, interval=0.5, what="the ingest process to store an event")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert "subscribing to maskwatch/#" in out
        with Session(engine) as db:
            counters = {c.name: c.value for c in db.scalars(select(IngestCounter))}
        assert counters.get("event") == 1 and counters.get("rejected_invalid_json", 0) >= 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_ingest_connects_as_the_config_says(engine, tmp_path):
    """One connection model for agent and ingest (issue 15): the ingest takes the config's ``mqtt`` section
    whole, so its keepalive, protocol and reconnect back-off are the configured ones (the ingest used to
    receive host, port, keepalive, protocol and TLS one by one and reconnect with the default back-off)."""
    cfg = broker_at(1883, keepalive_s=45, reconnect_min_s=3, reconnect_max_s=40, protocol="3.1.1")
    m = MqttIngest(Ingester(engine, tmp_path / "snaps", "maskwatch", name="cfg"), cfg, client_id="ing-cfg")
    assert (m.client._reconnect_min_delay, m.client._reconnect_max_delay) == (3, 40)
    assert m.connection.connect_args == {"host": "127.0.0.1", "port": 1883, "keepalive": 45} and not m.v5
    assert m.conn_log.cfg is cfg


def test_ingest_without_group_works_with_an_mqtt_311_broker(engine, tmp_path):
    """amqtt (the demo's embedded broker) speaks MQTT 3.1.1 only: without a group the ingest uses 3.1.1."""
    pytest.importorskip("amqtt", reason="amqtt not installed (pip install 'maskwatch[broker]')")
    import yaml
    from helpers.net import free_port, port_open

    port = free_port()
    conf = tmp_path / "amqtt.yaml"
    conf.write_text(yaml.safe_dump({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                                    "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                                {"allow_anonymous": True}}}))
    broker = subprocess.Popen([sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    m = None
    try:
        wait_for(lambda: port_open(port) or broker.poll() is not None, 30, what="amqtt")
        assert broker.poll() is None, "amqtt exited"
        ing = Ingester(engine, tmp_path / "snaps", "maskwatch", name="v311")
        m = MqttIngest(ing, broker_at(port, protocol="3.1.1"), client_id="ing-311")
        m.start()
        assert m.subscribed.wait(15), "no subscription on the 3.1.1 broker"
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-311", protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        try:
            for i in range(5):
                pub.publish(topic("event"), raw(event(f"a{i}")), qos=1).wait_for_publish(10)
            wait_for(lambda: count(engine, Event) == 5, 20, what="5 events through amqtt")
        finally:
            pub.disconnect()
            pub.loop_stop()
    finally:
        if m is not None:
            m.stop()
        broker.terminate()
        broker.wait(10)


def test_ingest_purges_old_data_on_a_schedule(engine, tmp_path, broker):
    from datetime import UTC, datetime, timedelta

    from dashboard.messages import classify

    old = datetime.now(UTC) - timedelta(days=10)
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch")
    # received 10 days ago (retention goes by the receive time, dashboard/clock_bounds.py)
    ing.store.write([classify("maskwatch", topic("event"), raw(event("old", time=old.isoformat())))], now=old)
    ing.process([Received(topic("event"), raw(event("new")))])
    m = start_ingest(engine, tmp_path, broker, client_id="ing-purge", retention_days=7, purge_first_s=0.1,
                     purge_every_s=0.5)
    try:
        wait_for(lambda: count(engine, Event) == 1, 15, what="the scheduled purge")
    finally:
        m.stop()


def test_the_ingest_queue_is_bounded_by_bytes_while_the_database_stalls(engine, tmp_path, broker, pub):
    """40 snapshots of ~1 MB while the database is write-locked: at most 4 MiB wait in the ingest's memory
    (the broker holds the rest), and all 40 are stored once the lock goes."""
    import sqlite3
    import threading

    bound = 4 * 2**20
    m = start_ingest(engine, tmp_path, broker, client_id="ing-bytes", queue_max_bytes=bound)
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], m._queued_bytes)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    lock = sqlite3.connect(tmp_path / "db.sqlite3", timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        big = jpeg() + b"\0" * 1_000_000
        for i in range(40):
            pub.send(topic("snapshot", event_id=f"big{i}"), big)
        time.sleep(3)
        assert m._queued_bytes <= bound + len(big)
    finally:
        lock.rollback()
        lock.close()
    try:
        wait_for(lambda: count(engine, Snapshot) == 40, 60, what="every snapshot stored")
        done.set()
        assert peak[0] <= bound + len(big), peak[0]
        print(f"ingest queue peak {peak[0] / 2**20:.1f} MiB (bound {bound / 2**20:.0f} MiB) for 40 x 1 MB")
    finally:
        done.set()
        m.stop()
