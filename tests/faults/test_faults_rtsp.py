"""RTSP camera faults with timing targets, through a real GStreamer RTSP server and a real mosquitto:
the server killed (camera loses power) and the stream frozen with its socket open (SIGSTOP) must be
reported offline within the camera's read timeout, and the camera must be back online within 5 s of the
stream's return, however long it was away. (tests/agent/test_runtime_rtsp.py covers the same faults for
states, reasons and resumed analysis; this file holds the deadlines.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from helpers import mosquitto, rtsp
from helpers.agent import RuntimeThread, agent_config, validate
from helpers.fakes import FakeClassifier
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import wait_for

from edge_agent.config import CameraConfig, Config
from edge_agent.pipeline import FramePipeline

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.fault,
    pytest.mark.timeout(120),
    pytest.mark.frames(seconds=2),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]

READ_TIMEOUT_S = 2.0
AWAY_S = 12.0  # long enough for a doubling back-off (1, 2, 4, 8 s) to overshoot the return
BACK_WITHIN_S = 5.0
SLACK_S = 1.0  # status path (runtime loop tick 0.25 s, outbox, MQTT) and scheduling on a busy machine


def pipeline(config: Config, camera: CameraConfig) -> FramePipeline:
    return FramePipeline(config, camera, classifier=FakeClassifier())  # type: ignore[arg-type]


def last_state(col: Collector) -> str | None:
    msgs = col.on("/camera/door/status")
    return validate("status", msgs[-1].payload)["state"] if msgs else None


def start(tmp_path: Path, broker: Mosquitto, url: str) -> tuple[RuntimeThread, Collector]:
    col = Collector(broker.port, "maskwatch/s1/camera/door/status").start()
    cam = {"name": "door", "source": {"type": "rtsp", "url": url}, "detect_fps": 5,
           "open_timeout_s": 5, "read_timeout_s": READ_TIMEOUT_S}
    cfg = agent_config(tmp_path, broker.port, [cam], detector={"type": "fake", "boxes": [[10, 10, 60, 70]]})
    rt = RuntimeThread(cfg, pipeline_factory=pipeline).start()
    wait_for(lambda: last_state(col) == "online", 30, what="camera online")
    runner = rt.runtime.runners[0]
    wait_for(lambda: runner.frames_total >= 3, 20, what="frames analysed")
    return rt, col


def timed(predicate, timeout: float, what: str) -> float:  # noqa: ANN001
    t0 = time.monotonic()
    wait_for(predicate, timeout, interval=0.02, what=what)
    return time.monotonic() - t0


def test_killed_server_offline_within_read_timeout_back_online_within_5s(tmp_path: Path, broker: Mosquitto,
                                                                          server: rtsp.RtspServer) -> None:
    rt, col = start(tmp_path, broker, server.url)
    try:
        server.kill()
        offline_s = timed(lambda: last_state(col) == "offline", 20, "offline reported")
        time.sleep(max(AWAY_S - offline_s, 0))
        server.start()
        online_s = timed(lambda: last_state(col) == "online", 30, "online reported")
    finally:
        rt.stop()
        col.stop()
    print(f"RTSP server killed -> offline in {offline_s:.2f} s (read timeout {READ_TIMEOUT_S} s); "
          f"back after {AWAY_S:.0f} s away -> online in {online_s:.2f} s")
    assert offline_s <= READ_TIMEOUT_S + SLACK_S
    assert online_s <= BACK_WITHIN_S


def test_frozen_stream_offline_within_read_timeout_back_online_within_5s(tmp_path: Path, broker: Mosquitto,
                                                                          server: rtsp.RtspServer) -> None:
    """SIGSTOP freezes the server with its socket open: no error, no data; only the read timeout can tell."""
    assert server.proc is not None
    pid = server.proc.pid
    rt, col = start(tmp_path, broker, server.url)
    try:
        os.kill(pid, signal.SIGSTOP)
        offline_s = timed(lambda: last_state(col) == "offline", 20, "offline reported")
        time.sleep(max(AWAY_S - offline_s, 0))
        os.kill(pid, signal.SIGCONT)
        online_s = timed(lambda: last_state(col) == "online", 30, "online reported")
    finally:
        os.kill(pid, signal.SIGCONT)
        rt.stop()
        col.stop()
    print(f"RTSP stream frozen -> offline in {offline_s:.2f} s (read timeout {READ_TIMEOUT_S} s); "
          f"resumed after {AWAY_S:.0f} s -> online in {online_s:.2f} s")
    assert offline_s <= READ_TIMEOUT_S + SLACK_S
    assert online_s <= BACK_WITHIN_S
