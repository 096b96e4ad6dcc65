"""``maskwatch agent`` as a user runs it: a subprocess with a config file, a real mosquitto, the demo
camera, the real CenterFace detector and the real int8 classifier. Checks events, snapshots, stats,
retained status and availability against the JSON Schemas, systemd notifications, SIGHUP reload,
``stopped`` on SIGTERM and ``offline`` (the will) on SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import mosquitto
from helpers.agent import agent_config, validate
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import wait_for

from edge_agent.config import PACKAGED_MODEL
from edge_agent.events import is_jpeg

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]
needs_model = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason=f"no classifier model yet ({PACKAGED_MODEL})")


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield path, sock
    sock.close()


def write_config(tmp_path: Path, port: int, cameras: list[dict], **extra: object) -> Path:
    cfg = agent_config(tmp_path, port, cameras, **extra)
    cfg["detector"] = {"type": "centerface", "score_threshold": 0.4}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def demo_cam(name: str) -> dict:
    return {"name": name, "source": {"type": "demo", "fps": 10}, "detect_fps": 5}


def start_agent(config: Path, env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "edge_agent", "agent", "--config", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def notifications(sock: socket.socket, into: list[str]) -> list[str]:
    while True:
        try:
            into.extend(sock.recv(200).decode().split("\n"))
        except (TimeoutError, BlockingIOError):
            return into


@needs_model
def test_agent_end_to_end_with_real_models(tmp_path: Path, broker: Mosquitto, notify_socket) -> None:
    sock_path, sock = notify_socket
    col = Collector(broker.port, "maskwatch/#").start()
    config = write_config(tmp_path, broker.port, [demo_cam("lobby")], agent={"stats_interval_s": 3})
    proc = start_agent(config, {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000"})
    notes: list[str] = []
    try:
        wait_for(lambda: "READY=1" in notifications(sock, notes), 60, what="READY=1")
        events = col.wait_on("/camera/lobby/event", 90, count=2)
        col.wait_on("/camera/lobby/stats", 30, count=1)
        wait_for(lambda: "WATCHDOG=1" in notifications(sock, notes), 10, what="WATCHDOG=1")

        # SIGHUP: reload with a second camera
        config.write_text(config.read_text().replace("cameras:", "cameras:\n- " + yaml.safe_dump(
            demo_cam("hall"), default_flow_style=True).strip(), 1))
        proc.send_signal(signal.SIGHUP)
        col.wait_on("/camera/hall/status", 60, predicate=lambda m: b'"online"' in m.payload)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.stdout.read() if proc.stdout else ""
    col.wait_on("/available", 10, predicate=lambda m: m.payload == b"stopped")
    col.stop()
    assert "Traceback" not in out, out[-3000:]

    avail = [m.payload for m in col.on("/available")]
    assert avail[0] == b"online" and avail[-1] == b"stopped"
    events = [validate("event", m.payload) for m in col.on("/camera/lobby/event")]
    assert {e["verdict"] for e in events} <= {"without_mask", "mask_incorrect"}
    for e in events:
        assert e["frame_size"] == [1280, 720]
        snap = [m for m in col.matching("/snapshot/") if m.topic == e["snapshot"]]
        assert len(snap) == 1 and is_jpeg(snap[0].payload)
    stats = [validate("stats", m.payload) for m in col.on("/camera/lobby/stats")]
    assert sum(sum(s["people"].values()) for s in stats) >= len(events)
    assert all(s["inference_ms"] > 0 for s in stats if s["frames"])
    status = [validate("status", m.payload) for m in col.on("/camera/lobby/status")]
    assert status[0]["state"] == "online"
    assert "READY=1" in notes and "WATCHDOG=1" in notes and "STOPPING=1" in notifications(sock, notes)
    print(f"{len(events)} violation events ({sorted({e['verdict'] for e in events})}), "
          f"stats fps {[s['fps'] for s in stats]}, inference ms {[s['inference_ms'] for s in stats]}")


@needs_model
def test_killed_agent_is_reported_offline_by_its_will(tmp_path: Path, broker: Mosquitto) -> None:
    col = Collector(broker.port, "maskwatch/s1/agent/+/available").start()
    config = write_config(tmp_path, broker.port, [demo_cam("lobby")], mqtt={"keepalive_s": 5})
    proc = start_agent(config)
    try:
        col.wait_on("/available", 60, predicate=lambda m: m.payload == b"online")
        proc.kill()
        proc.wait(10)
        t0 = time.monotonic()
        col.wait_on("/available", 20, predicate=lambda m: m.payload == b"offline")
        print(f"offline (last will) {time.monotonic() - t0:.2f} s after SIGKILL")
    finally:
        if proc.poll() is None:
            proc.kill()
        col.stop()


def test_invalid_config_exits_with_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  - name: x\n    source: {type: webcam}\n")
    proc = subprocess.run([sys.executable, "-m", "edge_agent", "agent", "--config", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cameras[0].source" in proc.stderr and "webcam" in proc.stderr


@needs_model
@pytest.mark.fault
def test_events_during_a_broker_outage_survive_an_agent_sigkill(tmp_path: Path, broker: Mosquitto) -> None:
    """Broker down while violations happen, then the agent is SIGKILLed before it could send them: after
    the broker and the agent return, every event the first run produced arrives, each once from the agent but
    for the counted re-sends of what the broker acknowledged just before it stopped and had not yet shown it
    saved (docs/mqtt.md "Acknowledged is not yet saved": at least once, the dashboard keeps one copy)."""
    from helpers.agent import AgentProcess

    from edge_agent.outbox import Outbox

    col = Collector(broker.port, "maskwatch/s1/camera/+/event").start()
    config = write_config(tmp_path, broker.port, [demo_cam("lobby")])
    first = AgentProcess(config)
    second = None
    try:
        col.wait_on("/event", 90)
        broker.stop()
        # arrived before the outage: one of these the broker may have acknowledged just before it stopped,
        # before the agent saw it saved; the agent then sends it again (docs/mqtt.md)
        arrived_before = {validate("event", m.payload)["event_id"] for m in col.on("/event")}
        before = len(first.event_ids())
        wait_for(lambda: len(first.event_ids()) >= before + 2, 120, what="violations while the broker is down")
        first.kill()
        produced = first.event_ids()
        broker.start()
        second = AgentProcess(config)
        wait_for(lambda: set(produced) <= {validate("event", m.payload)["event_id"] for m in col.on("/event")},
                 60, what="every event of the killed run")
        time.sleep(1.0)
        delivered = [validate("event", m.payload)["event_id"] for m in col.on("/event", redelivered=False)]
        assert second.terminate() == 0, second.output[-3000:]
        second = None
        outbox = Outbox(tmp_path / "queue.sqlite3")
        resent = outbox.counter("resent_unconfirmed")
        outbox.close()
        mine = [d for d in delivered if d in produced]
        assert set(mine) == set(produced), "every event of the killed run"
        twice = {d for d in mine if mine.count(d) > 1}
        # sent again only what had arrived before the outage (acknowledged, not yet shown saved); counted when
        # the same agent process reconnects, not when it was killed before it could (the settling state is
        # in memory)
        assert twice <= arrived_before, f"sent twice though not acknowledged before the outage: {twice}"
        assert len(mine) - len(produced) <= max(resent, len(twice)), (resent, twice)
        print(f"first run produced {len(produced)} events ({len(produced) - before} during the outage); "
              f"all delivered after broker + agent restart, {len(mine) - len(produced)} sent again "
              f"({resent} counted as re-sent unconfirmed)")
    finally:
        first.kill()
        if second is not None:
            assert second.terminate() == 0, second.output[-3000:]
        col.stop()
