"""RTSP camera through a real GStreamer RTSP server: the camera goes offline when the server dies (or
goes silent) and comes back online when it returns; status messages are retained and schema-valid."""

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
    pytest.mark.timeout(180),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]


def pipeline(config: Config, camera: CameraConfig) -> FramePipeline:
    return FramePipeline(config, camera, classifier=FakeClassifier())  # type: ignore[arg-type]


def states(col: Collector) -> list[dict]:
    return [validate("status", m.payload) for m in col.on("/camera/door/status")]


def run_agent(tmp_path: Path, broker: Mosquitto, url: str) -> RuntimeThread:
    cam = {"name": "door", "source": {"type": "rtsp", "url": url}, "detect_fps": 5,
           "open_timeout_s": 5, "read_timeout_s": 2}
    cfg = agent_config(tmp_path, broker.port, [cam], detector={"type": "fake", "boxes": [[10, 10, 60, 70]]})
    return RuntimeThread(cfg, pipeline_factory=pipeline).start()


def test_rtsp_server_killed_mid_stream_then_back(tmp_path: Path, broker: Mosquitto, server: rtsp.RtspServer) -> None:
    col = Collector(broker.port, "maskwatch/s1/camera/door/status").start()
    rt = run_agent(tmp_path, broker, server.url)
    try:
        wait_for(lambda: any(s["state"] == "online" for s in states(col)), 30, what="camera online")
        runner = rt.runtime.runners[0]
        wait_for(lambda: runner.frames_total >= 5, 20, what="frames analysed")
        t_kill = time.monotonic()
        server.kill()
        wait_for(lambda: states(col)[-1]["state"] == "offline", 30, what="camera reported offline")
        offline_s = time.monotonic() - t_kill
        reason = states(col)[-1]["reason"]
        time.sleep(2.0)  # the camera stays down a while; the worker keeps retrying with back-off
        t_back = time.monotonic()
        server.start()
        wait_for(lambda: states(col)[-1]["state"] == "online", 90, what="camera back online")
        online_s = time.monotonic() - t_back
        frames_before = runner.frames_total
        wait_for(lambda: runner.frames_total > frames_before + 3, 20, what="analysis resumed")
    finally:
        rt.stop()
        col.stop()
    assert reason and "RTSP stream" in reason
    assert states(col)[-1]["resolution"] == [640, 360]
    print(f"RTSP kill -> offline reported in {offline_s:.2f} s; server back -> online in {online_s:.2f} s "
          f"(reconnect back-off 1 s doubling)")


def test_silent_rtsp_stream_is_detected_by_the_read_timeout(tmp_path: Path, broker: Mosquitto,
                                                            server: rtsp.RtspServer) -> None:
    """SIGSTOP freezes the server with its socket open: only the read timeout can notice."""
    col = Collector(broker.port, "maskwatch/s1/camera/door/status").start()
    rt = run_agent(tmp_path, broker, server.url)
    assert server.proc is not None
    pid = server.proc.pid
    try:
        wait_for(lambda: any(s["state"] == "online" for s in states(col)), 30, what="camera online")
        time.sleep(1.0)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: states(col)[-1]["state"] == "offline", 30, what="camera reported offline")
        offline_s = time.monotonic() - t0
        os.kill(pid, signal.SIGCONT)
        t1 = time.monotonic()
        wait_for(lambda: states(col)[-1]["state"] == "online", 90, what="camera back online")
        online_s = time.monotonic() - t1
    finally:
        os.kill(pid, signal.SIGCONT)
        rt.stop()
        col.stop()
    assert offline_s < 15, "read_timeout_s is 2 s: a silent stream must not block for FFmpeg's 30 s default"
    print(f"silent RTSP stream -> offline in {offline_s:.2f} s (read_timeout_s 2); resumed -> online in {online_s:.2f} s")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_source_reads_frames_over_tcp_and_udp(server: rtsp.RtspServer, transport: str) -> None:
    from edge_agent.sources import make_source

    cam = CameraConfig.model_validate({"name": "door", "source": {"type": "rtsp", "url": server.url,
                                                                  "transport": transport},
                                       "open_timeout_s": 10, "read_timeout_s": 5})
    src = make_source(cam)
    t0 = time.monotonic()
    src.open()
    try:
        frames = [src.read() for _ in range(15)]
    finally:
        src.close()
    print(f"RTSP over {transport}: open + 15 frames in {time.monotonic() - t0:.2f} s")
    assert frames[-1].size == (640, 360)
    assert frames[-1].image.std() > 10  # a picture, not a blank frame
    assert os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS") is None  # the process-wide option was restored
