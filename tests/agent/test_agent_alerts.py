"""Agent side of alerts, in-process against a real mosquitto: schedules (no violations published outside
active hours), Prometheus /metrics beside /healthz, and the health endpoint on by default."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from helpers import mosquitto
from helpers.agent import RuntimeThread, agent_config
from helpers.fakes import FakeClassifier
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.config import CameraConfig, Config, parse_config
from edge_agent.pipeline import FramePipeline

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]
BOXES = [[100, 100, 200, 220], [600, 300, 700, 420]]


def fake_pipeline(config: Config, camera: CameraConfig) -> FramePipeline:
    return FramePipeline(config, camera, classifier=FakeClassifier("without_mask"))  # type: ignore[arg-type]


def camera(name: str = "cam1", **kw: object) -> dict[str, object]:
    return {"name": name, "source": {"type": "demo", "fps": 10, "width": 800, "height": 480}, "detect_fps": 5, **kw}


def test_the_health_endpoint_is_on_by_default_on_loopback() -> None:
    agent = parse_config({}).agent
    assert agent.health_port == 9101 and agent.health_host == "127.0.0.1"


def test_outside_active_hours_no_violation_is_published(broker: Mosquitto, tmp_path: Path) -> None:
    col = Collector(broker.port, "maskwatch/#").start()
    from edge_agent.alerts_config import DAYS

    other_day = DAYS[(time.gmtime().tm_wday + 3) % 7]  # active one minute on a day that is not today
    closed = {"hours": ["00:00-00:01"], "days": [other_day], "timezone": "UTC"}
    cfg = agent_config(tmp_path, broker.port, [camera("open"), camera("closed", schedule=closed)],
                       detector={"type": "fake", "boxes": BOXES})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    try:
        col.wait_on("/camera/open/event", 20, count=2)
        col.wait_on("/camera/closed/stats", 20, predicate=lambda m: b'"without_mask":2' in m.payload.replace(b" ", b""))
        runners = {r.camera.name: r for r in rt.runtime.runners}
        assert runners["closed"].suppressed_total == 2
    finally:
        rt.stop()
    col.stop()
    assert col.on("/camera/closed/event") == [] and not col.matching("/camera/closed/snapshot/")
    assert runners["open"].suppressed_total == 0


def test_metrics_expose_cameras_queue_and_connection(broker: Mosquitto, tmp_path: Path) -> None:
    port = free_port()
    cfg = agent_config(tmp_path, broker.port, [camera()], detector={"type": "fake", "boxes": BOXES},
                       agent={"health_port": port})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    try:
        wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].events_total >= 2, 20, what="events")
        wait_for(lambda: rt.runtime.runners[0].last_fps > 0, 10, what="a stats interval")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
            text = resp.read().decode()
    finally:
        rt.stop()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    cam = (("camera", "cam1"),)
    assert samples[("maskwatch_frames_analysed_total", cam)] > 0
    assert samples[("maskwatch_events_total", cam)] >= 2
    assert 1.0 <= samples[("maskwatch_camera_fps", cam)] <= 7.0
    assert samples[("maskwatch_inference_seconds_total", cam)] > 0
    assert samples[("maskwatch_camera_up", cam)] == 1.0
    assert samples[("maskwatch_camera_state", (("camera", "cam1"), ("state", "online")))] == 1.0
    assert samples[("maskwatch_mqtt_connected", ())] == 1.0
    assert ("maskwatch_queue_pending", ()) in samples
    assert samples[("maskwatch_queue_dropped_total", (("reason", "full"),))] == 0
    assert ("maskwatch_frames_dropped_total", cam) in samples


def test_a_busy_health_port_does_not_stop_the_agent(broker: Mosquitto, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = agent_config(tmp_path, broker.port, [camera()], detector={"type": "fake", "boxes": []},
                           agent={"health_port": busy.getsockname()[1]})
        rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
        try:
            wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].frames_total > 3, 20, what="frames")
        finally:
            rt.stop()
    assert rt.runtime.health is None


def _publish(port: int, topic: str, payload: bytes) -> None:
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="switch-commander")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def test_detection_switch_applies_within_a_second_and_survives_a_restart(broker: Mosquitto, tmp_path: Path) -> None:
    col = Collector(broker.port, "maskwatch/+/camera/+/+/state").start()
    cfg = agent_config(tmp_path, broker.port, [camera("cam1"), camera("cam2")], detector={"type": "fake", "boxes": []})
    base = "maskwatch/s1/camera"
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    try:
        col.wait_on(f"{base}/cam1/enabled/state", 20, predicate=lambda m: m.payload == b"ON")
        runners = {r.camera.name: r for r in rt.runtime.runners}
        wait_for(lambda: runners["cam1"].frames_total > 2, 20, what="frames")
        t0 = time.monotonic()
        _publish(broker.port, f"{base}/cam1/enabled/set", b"OFF")
        wait_for(lambda: not runners["cam1"].detection_enabled, 5, interval=0.005, what="the switch")
        applied_s = time.monotonic() - t0  # publish -> broker -> agent -> flag (the next frame reads it)
        frames = runners["cam1"].frames_total
        time.sleep(1.0)
        assert runners["cam1"].frames_total <= frames + 1, "at most the frame in progress"
        print(f"detection switch applied {applied_s * 1000:.0f} ms after the command was published")
        assert runners["cam2"].detection_enabled
        col.wait_on(f"{base}/cam1/enabled/state", 10, predicate=lambda m: m.payload == b"OFF")
        _publish(broker.port, f"{base}/cam1/enabled/set", b"maybe")  # rejected, counted, nothing changes
        _publish(broker.port, f"{base}/nosuch/enabled/set", b"ON")
        _publish(broker.port, f"{base}/cam2/notifications/set", b"OFF")
        wait_for(lambda: rt.runtime.switches is not None and rt.runtime.switches.rejected == 2, 10, what="rejects")
        wait_for(lambda: not rt.runtime.switches.get("cam2", "notifications"), 10, what="notifications off")
    finally:
        rt.stop()
    assert applied_s < 5  # a bound for a loaded machine; typically a few ms (printed above)
    # a restart keeps the switches (state file next to the queue) and announces them again, retained
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    try:
        wait_for(lambda: len(rt.runtime.runners) == 2, 20, what="runners")
        runners = {r.camera.name: r for r in rt.runtime.runners}
        assert not runners["cam1"].detection_enabled and runners["cam2"].detection_enabled
        wait_for(lambda: runners["cam2"].frames_total > 2, 20, what="cam2 frames")
        assert runners["cam1"].frames_total == 0
        _publish(broker.port, f"{base}/cam1/enabled/set", b"ON")
        wait_for(lambda: runners["cam1"].frames_total > 2, 10, what="cam1 analysing again")
    finally:
        rt.stop()
    col.stop()
    late = Collector(broker.port, "maskwatch/+/camera/+/+/state").start()  # retained states for newcomers
    try:
        late.wait_on(f"{base}/cam2/notifications/state", 10, predicate=lambda m: m.payload == b"OFF")
        late.wait_on(f"{base}/cam1/enabled/state", 10, predicate=lambda m: m.payload == b"ON")
    finally:
        late.stop()


def test_the_sample_grafana_dashboard_uses_only_metrics_that_exist() -> None:
    """Every metric name in deploy/grafana/ is one the agent or the ingest exports (docs list them too)."""
    import json
    import re

    root = Path(__file__).resolve().parents[2]
    dash = json.loads((root / "deploy" / "grafana" / "maskwatch-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"maskwatch_[a-z_]+", e)}
    code = (root / "edge_agent" / "metrics.py").read_text() + (root / "dashboard" / "metrics.py").read_text()
    exported = set(re.findall(r'"(maskwatch_[a-z_]+)"', code))
    exported |= {n + "_total" for n in exported}  # counters get _total in the exposition
    docs = (root / "docs" / "notifications.md").read_text()
    assert used and used <= exported, used - exported
    assert all(n in docs or n.removesuffix("_total") in docs for n in used)
