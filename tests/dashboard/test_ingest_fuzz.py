"""Fuzz the ingest with thousands of generated malformed messages: it keeps running, stores nothing wrong,
and counts every rejection. Core (hypothesis, real SQLite) and through a real mosquitto."""

from __future__ import annotations

import json
import random
import uuid

import paho.mqtt.client as mqtt
import pytest
from dashboard_support import event, jpeg, raw, stats, status, topic
from helpers import mosquitto as mq
from helpers.mosquitto import broker_at
from helpers.net import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, MqttIngest, Received
from dashboard.models import Agent, Camera, Event, Snapshot, StatSample
from edge_agent.core.topics import parse_topic

TABLES = (Event, Camera, Snapshot, StatSample, Agent)
JSON_KINDS = {"event": event, "stats": stats, "status": status}
json_scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=30)
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                          max_leaves=10)
# values that no field of the contract accepts (numbers can be timestamps, strings can be names)
XYZ = st.text(alphabet="xyz", min_size=1, max_size=5)
invalid_value = st.none() | st.lists(XYZ, min_size=3, max_size=3) | st.dictionaries(XYZ, json_value, min_size=1, max_size=3)


@st.composite
def broken_json_message(draw) -> tuple[str, bytes]:
    """A valid payload with one field broken (wrong type, out of range, missing, extra), or junk."""
    kind = draw(st.sampled_from(sorted(JSON_KINDS)))
    data = JSON_KINDS[kind]()
    how = draw(st.sampled_from(["replace", "drop", "extra", "junk", "truncate", "mismatch"]))
    if how == "replace":
        key = draw(st.sampled_from(sorted(k for k in data if k not in ("reason", "resolution"))))
        data[key] = draw(invalid_value)
        body = json.dumps(data, allow_nan=True).encode()
    elif how == "drop":
        key = draw(st.sampled_from(sorted(k for k in data if k not in ("schema", "reason", "resolution"))))
        del data[key]
        body = raw(data)
    elif how == "extra":
        data[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in data and k != "schema_"))] = draw(json_value)
        body = raw(data)
    elif how == "junk":
        body = draw(st.binary(max_size=200))
        if body.strip()[:1] == b"{":
            body = b"!" + body
    elif how == "truncate":
        full = raw(data)
        body = full[: draw(st.integers(0, len(full) - 1))]
    else:
        data["camera"] = "someone-else"
        body = raw(data)
    return topic(kind), body


bad_topic_message = st.tuples(
    st.one_of(st.text(max_size=60).filter(lambda t: parse_topic("maskwatch", t) is None), st.sampled_from([
        "maskwatch/hq/camera/door", "maskwatch/hq/camera/door/event/extra", "maskwatch//camera/door/event",
        "maskwatch/hq/camera/../event", "maskwatch/hq/agent/pi-1/status", "maskwatch/hq/camera/door/snapshot/",
        "maskwatch/hq/camera/do or/stats", "maskwatch/hq/camera/door/snapshot/a/b"])),
    st.binary(max_size=100),
)
bad_binary_message = st.tuples(
    st.sampled_from([topic("snapshot", event_id="z1"), topic("preview"), topic("available")]),
    st.binary(max_size=100).filter(lambda b: not b.startswith(b"\xff\xd8\xff") and b.strip() not in
                                   (b"online", b"offline", b"stopped")),
).filter(lambda m: m[1] or m[0] == topic("available"))  # empty on an image topic: a retained image cleared
# (docs/privacy.md), counted as image_cleared_seen, not malformed
malformed = st.one_of(broken_json_message(), bad_topic_message, bad_binary_message)


@pytest.fixture(scope="module")
def fuzz_ingester(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{d / 'db.sqlite3'}")
    upgrade(engine)
    return Ingester(engine, d / "snaps", "maskwatch", name="fuzz")


def stored(engine) -> dict[str, int]:
    with Session(engine) as db:
        return {m.__name__: db.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES}


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(batch=st.lists(malformed, min_size=1, max_size=40))
def test_malformed_messages_are_rejected_and_store_nothing(fuzz_ingester, batch):
    before = fuzz_ingester.counters["rejected"]
    fuzz_ingester.process([Received(t, p) for t, p in batch])
    assert fuzz_ingester.counters["rejected"] - before == len(batch)
    assert stored(fuzz_ingester.engine) == {m.__name__: 0 for m in TABLES}
    assert not fuzz_ingester.counters["store_error"] and not fuzz_ingester.counters["batch_error"]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(bad=st.lists(malformed, max_size=30), n_good=st.integers(1, 10), seed=st.integers(0, 2**32 - 1))
def test_valid_messages_survive_among_malformed_ones(tmp_path_factory, bad, n_good, seed):
    d = tmp_path_factory.mktemp("mixed")
    engine = make_engine(f"sqlite:///{d / 'db.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, d / "snaps", "maskwatch", name="mixed")
    good = [(topic("event"), raw(event(uuid.uuid4().hex))) for _ in range(n_good)]
    batch = [Received(t, p) for t, p in bad + good]
    random.Random(seed).shuffle(batch)
    ing.process(batch)
    assert ing.counters["rejected"] == len(bad)
    assert stored(engine)["Event"] == n_good and stored(engine)["Camera"] == 1
    engine.dispose()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not mq.available(), reason="mosquitto not installed")
def test_thousands_of_malformed_messages_through_mosquitto(tmp_path):
    broker = mq.Mosquitto(tmp_path / "broker", persistence=False).start()
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    ing = MqttIngest(Ingester(engine, tmp_path / "snaps", "maskwatch", name="fz"), broker_at(broker.port),
                     client_id="fuzz-ingest")
    ing.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fuzz-pub", protocol=mqtt.MQTTv5)
    try:
        assert ing.subscribed.wait(10)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        messages = []
        rnd = random.Random(1234)
        for _ in range(3000):
            kind = rnd.choice(["event", "stats", "status"])
            body = bytearray(raw(JSON_KINDS[kind]()))
            for _ in range(rnd.randint(1, 4)):  # flip, drop or insert bytes
                i = rnd.randrange(len(body))
                op = rnd.random()
                if op < 0.4:
                    body[i] = rnd.randrange(256)
                elif op < 0.7:
                    del body[i]
                else:
                    body.insert(i, rnd.choice(b'{}[]",:0-eE.\\\x00'))
            messages.append((topic(kind), bytes(body)))
        infos = [pub.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(30)
        pub.publish(topic("event"), raw(event("still-alive")), qos=1).wait_for_publish(10)
        pub.publish(topic("preview"), jpeg(), qos=1).wait_for_publish(10)
        c = ing.ingester.counters

        def accounted() -> int:
            # a random mutation can leave a payload valid (e.g. a digit changed); every message is counted
            return (c["rejected"] + c["event"] + c["event_duplicate"] + c["event_revision"] + c["stats"] + c["stats_duplicate"]
                    + c["status"] + c["preview"])

        wait_for(lambda: accounted() >= 3002, 60, what="all 3,002 messages to be handled")
        assert accounted() == 3002
        with Session(engine) as db:
            assert db.scalar(select(Event).where(Event.event_id == "still-alive")) is not None
        assert ing.ingester.previews.get("hq", "door") is not None
        assert c["rejected"] > 2500
        assert not c["store_error"] and not c["batch_error"]
        assert ing._writer is not None and ing._writer.is_alive()
        with Session(engine) as db:
            for e in db.scalars(select(Event)):  # whatever was stored is a valid event
                assert 0 <= e.confidence <= 1 and e.verdict in ("without_mask", "mask_incorrect")
    finally:
        pub.disconnect()
        pub.loop_stop()
        ing.stop()
        broker.stop()
