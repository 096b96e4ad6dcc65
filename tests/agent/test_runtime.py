"""The runtime in-process against a real mosquitto: demo camera, fixed-box detector, fake classifier."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import mosquitto
from helpers.agent import RuntimeThread, agent_config, validate
from helpers.fakes import BlinkingDetector, FakeClassifier
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import wait_for

from edge_agent.config import CameraConfig, Config
from edge_agent.events import is_jpeg
from edge_agent.pipeline import FramePipeline
from edge_agent.runtime import Watchdog

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]

BOXES = [[100, 100, 200, 220], [600, 300, 700, 420]]


def fake_pipeline(label: str = "without_mask"):
    def factory(config: Config, camera: CameraConfig) -> FramePipeline:
        return FramePipeline(config, camera, classifier=FakeClassifier(label))  # type: ignore[arg-type]
    return factory


def demo_camera(name: str = "cam1", **kw: object) -> dict[str, object]:
    return {"name": name, "source": {"type": "demo", "fps": 10, "width": 800, "height": 480}, "detect_fps": 5, **kw}


def test_events_snapshots_stats_status_and_availability(broker: Mosquitto, tmp_path: Path) -> None:
    col = Collector(broker.port, "maskwatch/#").start()
    cfg = agent_config(tmp_path, broker.port, [demo_camera()],
                       detector={"type": "fake", "boxes": BOXES})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline()).start()
    try:
        col.wait_on("/camera/cam1/event", 20, count=2)
        col.wait_on("/camera/cam1/stats", 20, count=2)
        col.wait_on("/camera/cam1/preview", 10)
        time.sleep(1.0)  # no further events for the same people
    finally:
        rt.stop()
    col.wait_on("/available", 10, predicate=lambda m: m.payload == b"stopped")
    col.stop()

    avail = [m.payload for m in col.on("/available")]
    assert avail[0] == b"online" and avail[-1] == b"stopped"

    events = col.on("/camera/cam1/event")
    all_docs = [validate("event", m.payload) for m in events]
    docs = [d for d in all_docs if d["revision"] == 0]  # revision 1 (a better snapshot) may follow
    assert len(docs) == 2, "one event per tracked person, not one per frame"
    assert {d["event_id"] for d in all_docs} == {d["event_id"] for d in docs}
    assert all(d["revision"] in (0, 1) for d in all_docs) and len(all_docs) <= 4
    assert {d["verdict"] for d in docs} == {"without_mask"}
    assert sorted(tuple(d["box"]) for d in docs) == sorted(tuple(b) for b in BOXES)
    assert all(d["frame_size"] == [800, 480] and d["votes"] >= 3 and d["site"] == "s1" for d in docs)
    assert len({d["event_id"] for d in docs}) == 2
    for d in all_docs:
        snaps = [m for m in col.matching("/snapshot/") if m.topic == d["snapshot"]]
        assert len(snaps) == 1 and is_jpeg(snaps[0].payload), d["snapshot"]
        assert d["snapshot"].endswith(d["event_id"] + ("/1" if d["revision"] else ""))

    stat_docs = [validate("stats", m.payload) for m in col.on("/camera/cam1/stats")]
    assert sum(s["people"]["without_mask"] for s in stat_docs) == 2
    assert all(set(s["people"]) == {"with_mask", "without_mask", "mask_incorrect"} for s in stat_docs)
    assert any(s["frames"] > 0 and 2.0 <= s["fps"] <= 6.0 for s in stat_docs), stat_docs  # detect_fps 5
    assert all(isinstance(s["queue_pending"], int) and s["dead_letters"] == 0 for s in stat_docs)

    status = [validate("status", m.payload) for m in col.on("/camera/cam1/status")]
    assert status[0]["state"] == "online" and status[0]["resolution"] == [800, 480]
    assert status[-1]["state"] == "offline" and status[-1]["reason"] == "agent stopped"
    previews = col.on("/camera/cam1/preview")
    assert all(is_jpeg(m.payload) for m in previews)


def test_camera_status_is_retained(broker: Mosquitto, tmp_path: Path) -> None:
    cfg = agent_config(tmp_path, broker.port, [demo_camera()], detector={"type": "fake", "boxes": []})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline()).start()
    try:
        wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].frames_total > 0, 20, what="frames")
        wait_for(lambda: rt.runtime.outbox.pending() == 0, 10, what="outbox drained")
        late = Collector(broker.port, "maskwatch/s1/camera/+/status", persistent=False).start()
        msgs = late.wait_on("/status", 5)
        assert msgs[0].retain and validate("status", msgs[0].payload)["state"] == "online"
        late.stop()
    finally:
        rt.stop()


def test_events_produced_while_the_broker_is_down_arrive_exactly_once(broker: Mosquitto, tmp_path: Path) -> None:
    col = Collector(broker.port, "maskwatch/s1/camera/#", persistent=True).start()
    cfg = agent_config(tmp_path, broker.port, [demo_camera()], detector={"type": "fake", "boxes": []},
                       tracker={"max_age_s": 0.3})

    def factory(config: Config, camera: CameraConfig) -> FramePipeline:
        return FramePipeline(config, camera, detector=BlinkingDetector(BOXES),  # type: ignore[arg-type]
                             classifier=FakeClassifier("mask_incorrect"))  # type: ignore[arg-type]

    rt = RuntimeThread(cfg, pipeline_factory=factory).start()
    try:
        wait_for(lambda: len(col.on("/event")) >= 2, 20, what="first events")
        runner = rt.runtime.runners[0]
        link = rt.runtime.link
        assert link is not None
        broker.stop()
        wait_for(lambda: not link.connected.is_set(), 10, what="agent notices the outage")
        before = runner.events_total
        wait_for(lambda: runner.events_total >= before + 4, 20, what="violations during the outage")
        produced_offline = runner.events_total - before
        assert rt.runtime.outbox.pending() >= produced_offline
        t0 = time.monotonic()
        broker.start()
        wait_for(lambda: rt.runtime.outbox.pending() == 0, 30, what="outbox drained after the outage")
        total = runner.events_total
        wait_for(lambda: len(col.on("/event")) >= total, 20, what="every event delivered")
        delivered_s = time.monotonic() - t0
        time.sleep(0.5)  # a duplicate would arrive now
        resent = rt.runtime.outbox.counter("resent_unconfirmed")
    finally:
        rt.stop()
        col.stop()
    # the broker may itself re-send to the persistent subscriber (DUP set): not the agent's doing. The agent
    # sends again only what the broker acknowledged just before the connection was lost, unconfirmed as saved
    # (docs/mqtt.md "Acknowledged is not yet saved"; at least once, deduplicate by event_id), and counts it
    docs = [validate("event", m.payload) for m in col.on("/event", redelivered=False)]
    ids = [(d["event_id"], d["revision"]) for d in docs]  # a revision (better snapshot) is a message of its own
    assert len({i for i, _ in ids}) >= total, "every event delivered"
    assert len(ids) - len(set(ids)) <= resent, f"{len(ids) - len(set(ids))} duplicates, {resent} counted as resent"
    firsts = {(d["event_id"], d["revision"]): d for d in reversed(docs)}  # each one's first arrival
    times = [d["time"] for d in docs if d["revision"] == 0 and firsts[(d["event_id"], 0)] is d]
    assert times == sorted(times), "backlog delivered in order"
    print(f"{produced_offline} events produced while the broker was down; all {len(set(ids))} delivered "
          f"({len(ids) - len(set(ids))} sent again, unconfirmed at the outage), backlog {delivered_s:.2f} s after "
          "the broker returned")


def test_watchdog_is_fed_only_while_frames_are_processed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.1)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # feed every 0.1 s

    class FakeRunner:
        def __init__(self) -> None:
            self.last_processed = 0.0
            self.heartbeat = 100.0
            self.detection_enabled = True
            self.worker = type("W", (), {"state": type("S", (), {"state": "online"})()})()

    wd = Watchdog()
    wd._last_fed = 99.0
    r = FakeRunner()
    wd.tick([r], 100.0)  # online camera, nothing processed: starve
    assert wd.feeds == 0
    r.last_processed = 99.5
    wd.tick([r], 100.0)
    assert wd.feeds == 1
    msg = sock.recv(100)
    assert msg == b"WATCHDOG=1"
    sock.close()


def test_sighup_reload_adds_a_camera_and_a_bad_file_keeps_the_running_config(broker: Mosquitto,
                                                                               tmp_path: Path) -> None:
    import yaml

    col = Collector(broker.port, "maskwatch/s1/camera/+/status").start()
    path = tmp_path / "config.yaml"
    cfg = agent_config(tmp_path, broker.port, [demo_camera("cam1")], detector={"type": "fake", "boxes": []})
    path.write_text(yaml.safe_dump(cfg))
    rt = RuntimeThread(cfg, config_path=path, pipeline_factory=fake_pipeline()).start()
    try:
        col.wait_on("/cam1/status", 20, predicate=lambda m: b'"online"' in m.payload)
        path.write_text("cameras: [{name: broken, source: {type: webcam}}]\n")
        rt.runtime.request_reload()
        time.sleep(1.0)
        assert [r.camera.name for r in rt.runtime.runners] == ["cam1"] and rt.runtime.reloads == 0
        cfg["cameras"].append(demo_camera("cam2"))
        path.write_text(yaml.safe_dump(cfg))
        rt.runtime.request_reload()
        col.wait_on("/cam2/status", 20, predicate=lambda m: b'"online"' in m.payload)
        assert sorted(r.camera.name for r in rt.runtime.runners) == ["cam1", "cam2"]
        assert rt.runtime.reloads == 1
    finally:
        rt.stop()
        col.stop()


def test_a_pipeline_that_raises_is_counted_and_the_camera_keeps_going(broker: Mosquitto, tmp_path: Path) -> None:
    class Flaky(FramePipeline):
        calls = 0

        def process(self, frame):  # noqa: ANN001, ANN201
            Flaky.calls += 1
            if Flaky.calls % 2:
                raise ValueError("corrupt frame")
            return super().process(frame)

    def factory(config: Config, camera: CameraConfig) -> FramePipeline:
        return Flaky(config, camera, classifier=FakeClassifier())  # type: ignore[arg-type]

    cfg = agent_config(tmp_path, broker.port, [demo_camera()], detector={"type": "fake", "boxes": BOXES})
    rt = RuntimeThread(cfg, pipeline_factory=factory).start()
    try:
        wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].frames_total >= 4, 20, what="frames analysed")
        assert rt.runtime.runners[0].errors >= 3
    finally:
        rt.stop()


def test_healthz_reports_cameras_mqtt_and_queue(broker: Mosquitto, tmp_path: Path) -> None:
    import json
    import urllib.request

    from helpers.net import free_port

    port = free_port()
    cfg = agent_config(tmp_path, broker.port, [demo_camera()], detector={"type": "fake", "boxes": []},
                       agent={"health_port": port})
    rt = RuntimeThread(cfg, pipeline_factory=fake_pipeline()).start()
    try:
        wait_for(lambda: rt.runtime.runners and rt.runtime.runners[0].frames_total > 0, 20, what="frames")
        wait_for(lambda: rt.runtime.health is not None, 5, what="health server")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            body = json.loads(resp.read())
            assert resp.status == 200
        assert body["ok"] and body["mqtt_connected"]
        assert body["cameras"]["cam1"]["state"] == "online" and body["cameras"]["cam1"]["frames"] > 0
        assert set(body["queue"]) == {"pending", "in_flight", "bytes", "dropped_full", "dropped_age", "dropped_bytes",
                                      "dead_letters", "dead_lettered", "dead_letter_reasons", "deliveries_confirmed",
                                      "disk_full", "memory_buffered", "dropped_disk_full", "no_subscriber_retries",
                                      "waiting_for_subscriber", "resent_unconfirmed"}
        assert body["queue"]["deliveries_confirmed"] is True and body["alarms"] == []
        assert body["queue"]["no_subscriber_retries"] == 0 and body["queue"]["waiting_for_subscriber"] is False
        assert body["clock"] == {"jumps": 0, "last_jump_s": None, "offset_s": body["clock"]["offset_s"]}
        assert abs(body["clock"]["offset_s"]) < 2.0
    finally:
        rt.stop()


def test_each_runtime_owns_its_detector_cache(tmp_path: Path) -> None:
    from edge_agent.config import FakeDetectorConfig, parse_config
    from edge_agent.runtime import Runtime

    cams = [{"name": n, "source": {"type": "demo"}} for n in ("a", "b")]
    cfg = parse_config({"site": "s", "agent_id": "a", "queue": {"path": str(tmp_path / "q.sqlite3")},
                        "detector": {"type": "fake", "boxes": [[0, 0, 10, 10]]}, "cameras": cams})
    one, two = Runtime(cfg), Runtime(cfg.model_copy(update={"queue": cfg.queue.model_copy(
        update={"path": tmp_path / "q2.sqlite3"})}))
    try:
        assert one.detectors.get(cfg.detector) is one.detectors.get(cfg.detector)  # every camera: one net
        assert one.detectors.get(cfg.detector) is not two.detectors.get(cfg.detector)  # not a module global
        first = one.detectors.get(cfg.detector)
        other = FakeDetectorConfig(type="fake", boxes=[(0, 0, 20, 20)])
        assert one.detectors.get(other) is not first  # a reload with other settings replaces it
        assert one.detectors.get(other) is one.detectors.get(other)
    finally:
        one.outbox.close()
        two.outbox.close()
