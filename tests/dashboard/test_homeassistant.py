"""Home Assistant MQTT discovery from the real ingest process against a real mosquitto: one device per camera,
the entities and their state topics, the latest-violation image (and no image when images are off), and
every discovery payload checked with Home Assistant's own MQTT schemas.

The HA check runs Home Assistant's validators (``DISCOVERY_SCHEMA`` of each MQTT platform) in a separate
environment, ``$MASKWATCH_HA_VENV`` (default /tmp/ha-venv), built with::

    scripts/ha-venv.sh /tmp/ha-venv python3.12

It skips with that reason where the environment is absent."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from dashboard_support import event, jpeg, raw, stats, status, topic
from helpers import mosquitto as mq
from helpers.mqtt_collector import Collector
from helpers.net import wait_for
from helpers.stack import IngestProcess, write_dashboard_config

from dashboard.alerts_settings import HomeAssistantConfig
from dashboard.homeassistant import discovery
from edge_agent.core.topics import Topics

HA_PYTHON = Path(os.environ.get("MASKWATCH_HA_VENV", "/tmp/ha-venv")) / "bin" / "python"
VALIDATOR = Path(__file__).resolve().parents[1] / "helpers" / "ha_validate.py"
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@functools.cache
def _ha_ready() -> bool:
    return HA_PYTHON.exists() and subprocess.run([str(HA_PYTHON), "-c", "import homeassistant.const, voluptuous"],
                                                 capture_output=True, timeout=120).returncode == 0


def ha_validate(items: list[tuple[str, dict]]) -> tuple[str, list[dict]]:
    if not _ha_ready():
        pytest.skip(f"no Home Assistant environment at {HA_PYTHON.parent.parent}: build it with "
                    "scripts/ha-venv.sh (homeassistant 2025.1.4, Python 3.12)")
    lines = "".join(json.dumps({"component": t.split("/")[1], "topic": t, "payload": p}) + "\n" for t, p in items)
    r = subprocess.run([str(HA_PYTHON), str(VALIDATOR)], input=lines, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = [json.loads(x) for x in r.stdout.splitlines()]
    return out[0]["homeassistant"], out[1:]


def test_discovery_payloads_pass_home_assistants_own_schema() -> None:
    items = discovery(HomeAssistantConfig(enabled=True), Topics("maskwatch", "hq"), "door-a", "pi-1")
    version, results = ha_validate(items)
    bad = [r for r in results if not r["ok"]]
    assert not bad, f"Home Assistant {version} rejects: {bad}"
    assert {t.split("/")[1] for t, _ in items} == {"binary_sensor", "sensor", "image", "switch"}
    print(f"validated {len(results)} discovery payloads with Home Assistant {version}")


def test_a_mistake_is_caught_by_the_schema() -> None:
    """The check can fail: a wrong key (dropped by HA) and a wrong value are both reported."""
    (t, p), = [(t, p) for t, p in discovery(HomeAssistantConfig(enabled=True), Topics("maskwatch", "hq"), "door", None)
               if t.split("/")[1] == "binary_sensor"]
    _, results = ha_validate([(t, {**p, "of_delay": 30}), (t, {**p, "device_class": "mask"})])
    assert [r["ok"] for r in results] == [False, False]
    assert results[0]["dropped"] == ["of_delay"] and "device_class" in results[1]["error"]


def test_availability_maps_the_agents_three_values_onto_two() -> None:
    from jinja2 import Template

    items = dict(discovery(HomeAssistantConfig(enabled=True), Topics("maskwatch", "hq"), "door", "pi-1"))
    avail = next(iter(items.values()))["availability"]
    agent_t = Template(avail[0]["value_template"])
    assert [agent_t.render(value=v) for v in ("online", "offline", "stopped")] == ["online", "offline", "offline"]
    status_t = Template(avail[1]["value_template"])
    assert status_t.render(value_json={"state": "offline"}) == "offline"
    assert status_t.render(value_json={"state": "online"}) == "online"
    sensor = items["homeassistant/sensor/maskwatch_hq_door/compliance/config"]
    assert Template(sensor["value_template"]).render(value_json={"compliance": 0.8}) == "80.0"
    assert Template(sensor["value_template"]).render(value_json={"compliance": None}) == "None"  # HA: unknown


def _run_ingest(tmp_path: Path, broker: mq.Mosquitto, **ha: object) -> IngestProcess:
    path = write_dashboard_config(tmp_path / "dash", broker.port)
    data = yaml.safe_load(path.read_text())
    data["homeassistant"] = {"enabled": True, "violation_on_s": 15, **ha}
    path.write_text(yaml.safe_dump(data))
    return IngestProcess(path).start()


def _send(port: int, items: list[tuple[str, bytes, bool]]) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ha-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for t, p, retain in items:
            c.publish(t, p, qos=1, retain=retain).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def test_ingest_publishes_discovery_states_and_the_latest_violation(tmp_path: Path) -> None:
    if not mq.available():
        pytest.skip("mosquitto not installed")
    broker = mq.Mosquitto(tmp_path / "broker", persistence=False).start()
    ingest = _run_ingest(tmp_path, broker)
    col = Collector(broker.port, "#").start()
    try:
        wait_for(lambda: "subscribed (" in ingest.output(), 30, what="ingest subscribed")
        snap = jpeg(text="ha")
        _send(broker.port, [
            (topic("status"), raw(status()), True), (topic("available"), b"online", True),
            (topic("stats"), raw(stats(people={"with_mask": 6, "without_mask": 2, "mask_incorrect": 0})), False),
            (topic("snapshot", event_id="ha1"), snap, False),
            (topic("event"), raw(event("ha1", snapshot=topic("snapshot", event_id="ha1"))), False)])
        node = "homeassistant/binary_sensor/maskwatch_hq_door/violation/config"
        col.wait_on(node, 20)
        col.wait_on("maskwatch/hq/camera/door/ha/violation", 20)
        col.wait_on("maskwatch/hq/camera/door/ha/snapshot", 20)
        col.wait_on("maskwatch/hq/camera/door/ha/state", 20, predicate=lambda m: b'"violations": 1' in m.payload)
    finally:
        col.stop()
        ingest.stop()
    try:
        configs = {m.topic: json.loads(m.payload) for m in col.matching("homeassistant/") if m.payload}
        assert len(configs) == 10  # violation, compliance, 5 counts, image, 2 switches
        assert {c["device"]["identifiers"][0] for c in configs.values()} == {"maskwatch_hq_door"}
        assert configs[node]["off_delay"] == 15
        assert configs[node]["availability"][0]["topic"] == "maskwatch/hq/agent/pi-1/available"
        assert col.on("maskwatch/hq/camera/door/ha/violation")[-1].payload == b"ON"
        assert col.on("maskwatch/hq/camera/door/ha/snapshot")[-1].payload == snap
        state = json.loads(col.on("maskwatch/hq/camera/door/ha/state")[-1].payload)
        assert state["people"] == 8 and state["with_mask"] == 6 and state["violations"] == 1
        assert state["compliance"] == pytest.approx(0.75)
        # retained for Home Assistant restarts: a newcomer gets the configs and the image
        late = Collector(broker.port, "homeassistant/#").start()
        try:
            late.wait_on(node, 10)
        finally:
            late.stop()
        assert late.on(node)[0].retain
    finally:
        broker.stop()


def test_no_image_entity_and_no_image_when_images_are_off(tmp_path: Path) -> None:
    if not mq.available():
        pytest.skip("mosquitto not installed")
    broker = mq.Mosquitto(tmp_path / "broker", persistence=False).start()
    ingest = _run_ingest(tmp_path, broker, snapshot=False)
    col = Collector(broker.port, "#").start()
    try:
        wait_for(lambda: "subscribed (" in ingest.output(), 30, what="ingest subscribed")
        _send(broker.port, [(topic("snapshot", event_id="p1"), jpeg(), False), (topic("event"), raw(event("p1")), False)])
        col.wait_on("maskwatch/hq/camera/door/ha/violation", 20)
    finally:
        col.stop()
        ingest.stop()
        broker.stop()
    assert not [m for m in col.matching("/image/") if m.payload]
    assert all(m.payload == b"" for m in col.on("maskwatch/hq/camera/door/ha/snapshot"))


def test_the_image_entity_follows_each_cameras_privacy_mode() -> None:
    from dashboard.homeassistant import images_allowed
    from dashboard.settings import parse_settings

    cfg = parse_settings({"privacy": {"mode": "blur_all"}, "homeassistant": {"enabled": True},
                        "cameras": [{"name": "door", "source": {"type": "demo"}, "privacy_mode": "no_images"},
                                    {"name": "gate", "source": {"type": "demo"}}]})
    assert images_allowed(cfg.homeassistant, cfg, "door") is False
    assert images_allowed(cfg.homeassistant, cfg, "gate") is True
    assert images_allowed(cfg.homeassistant, cfg, "elsewhere") is True  # the site's mode: blur_all keeps images
    site_off = parse_settings({"privacy": {"mode": "no_images"}, "homeassistant": {"enabled": True}})
    assert images_allowed(site_off.homeassistant, site_off, "any") is False
    assert not [t for t, _ in discovery(HomeAssistantConfig(enabled=True), Topics("maskwatch", "hq"), "door", None,
                                        with_image=False) if "/image/" in t]
