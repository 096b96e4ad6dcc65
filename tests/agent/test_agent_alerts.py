"""Agent side of alerts, in-process against a real mosquitto: schedules (no violations published outside
active hours), Prometheus /metrics beside /healthz, and the health endpoint on by default."""

from __future__ import annotations

import json
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


def test_events_held_for_want_of_a_subscriber_show_on_the_stats_topic_and_in_metrics(
        broker: Mosquitto, tmp_path: Path) -> None:
    """Nobody subscribes to the events (a fresh install whose ingest never ran): mosquitto answers 0x10 and
    the agent keeps them queued. That state and the re-send count reach the stats topic (read by whatever
    watches stats) and /metrics, not only /healthz."""
    port = free_port()
    col = Collector(broker.port, "maskwatch/+/camera/+/stats").start()  # stats have a taker, events none
    cfg = agent_config(tmp_path, broker.port, [camera()], detector={"type": "fake", "boxes": BOXES},
                       agent={"health_port": port})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    try:
        wait_for(lambda: rt.runtime.sender is not None and rt.runtime.sender.waiting_for_subscriber, 30,
                 what="'no matching subscribers' seen")
        docs = [json.loads(m.payload) for m in col.wait_on(
            "/camera/cam1/stats", 30, predicate=lambda m: b'"waiting_for_subscriber":true' in m.payload.replace(
                b" ", b""))]
        assert docs[-1]["no_subscriber_retries"] >= 1 and docs[-1]["queue_pending"] >= 1, docs[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
            text = resp.read().decode()
    finally:
        rt.stop()
        col.stop()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("maskwatch_queue_waiting_for_subscriber", ())] == 1.0
    assert samples[("maskwatch_queue_no_subscriber_retries_total", ())] >= 1
    assert samples[("maskwatch_queue_dead_letters", ())] == 0


def test_a_wall_clock_jump_is_logged_once_and_reported_on_healthz_stats_and_metrics(
        broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """NTP jumps a Pi's clock by +8 days while the agent runs (its wall clock shifted, the monotonic clock
    not, as the kernel does): one warning, and the jump on /healthz, the stats topic and /metrics."""
    port = free_port()
    col = Collector(broker.port, "maskwatch/+/camera/+/stats").start()
    cfg = agent_config(tmp_path, broker.port, [camera()], detector={"type": "fake", "boxes": BOXES},
                       agent={"health_port": port})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline).start()
    jump = 8 * 86400.0
    try:
        wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].last_fps > 0, 20, what="a stats interval")
        assert rt.runtime.clock.state().jumps == 0
        real = rt.runtime.clock.wall
        rt.runtime.clock.wall = lambda: real() + jump
        wait_for(lambda: rt.runtime.clock.state().jumps == 1, 10, what="the jump seen")
        docs = [json.loads(m.payload) for m in col.wait_on(
            "/camera/cam1/stats", 30, predicate=lambda m: b'"clock_jumps":1' in m.payload.replace(b" ", b""))]
        assert abs(docs[-1]["clock_last_jump_s"] - jump) < 5, docs[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:  # noqa: S310
            health = json.loads(resp.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
            text = resp.read().decode()
        time.sleep(1.0)  # more main-loop checks: still one jump
    finally:
        rt.stop()
        col.stop()
    assert health["clock"]["jumps"] == 1 and abs(health["clock"]["last_jump_s"] - jump) < 5, health["clock"]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("maskwatch_clock_jumps_total", ())] == 1
    assert abs(samples[("maskwatch_clock_offset_seconds", ())] - jump) < 5
    said = [r for r in caplog.records if "wall clock jumped" in r.getMessage()]
    assert len(said) == 1 and "+8 d" in said[0].getMessage(), [r.getMessage() for r in said]


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
