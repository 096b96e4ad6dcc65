"""Frames detect_fps will not analyse are grabbed (the stream stays live) but never converted to BGR
(``camera.skip_unanalysed``): the analysed frames, and so the verdicts, are the same as when every frame is
retrieved; on a real RTSP stream the skipped frames are counted and the camera stays online."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers.net import wait_for

from edge_agent.config import parse_config
from edge_agent.core.topics import Topics
from edge_agent.outbox import Outbox
from edge_agent.pipeline import FramePipeline
from edge_agent.runtime import CameraRunner, Outputs
from edge_agent.sources.base import Frame, FrameSource, SourceError
from edge_agent.sources.demo import DemoScene

W, H, STREAM_FPS = 640, 360, 15
T0 = 1_700_000_000.0
SCENE = DemoScene(W, H)
START, SECONDS = 4.0, 8.0  # the first person (no mask) walks in from the left edge


class RecordedStream(FrameSource):
    """A recorded 15 fps clip with its capture times, read like an OpenCV camera (grab, then retrieve).

    It hands out the next frame only once analysis took the last one it was given, so both runs see every
    frame whatever the machine's speed (a live camera would drop frames instead)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.i = -1
        self.retrieved: list[int] = []
        self.slot: object = None  # the worker's LatestFrame, set by the test
        self.done = threading.Event()

    def open(self) -> None: ...

    def close(self) -> None: ...

    def grab(self) -> float:
        if self.slot is not None:
            while not self.slot.wait_taken(0.5):  # type: ignore[attr-defined]
                pass
        self.i += 1
        if self.i >= len(self.frames):
            self.done.set()
            threading.Event().wait(3600)  # end of the clip: wait to be stopped
        return T0 + START + self.i / STREAM_FPS

    def retrieve(self) -> Frame:
        self.retrieved.append(self.i)
        return Frame(self.frames[self.i].copy(), T0 + START + self.i / STREAM_FPS, self.i)

    def read(self) -> Frame:
        self.grab()
        return self.retrieve()


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return [SCENE.render(START + i / STREAM_FPS) for i in range(int(SECONDS * STREAM_FPS))]


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    from edge_agent.detectors import create_detector

    return create_detector(parse_config({}).detector)


def _run(tmp: Path, clip: list[np.ndarray], detector, skip: bool) -> tuple[list[dict], list[float], RecordedStream]:  # type: ignore[no-untyped-def]
    cfg = parse_config({"site": "s1", "agent_id": "a1", "queue": {"path": str(tmp / "q.sqlite3")},
                        "preview": {"enabled": False}, "snapshots": {"best_shot_wait_s": 0},
                        "cameras": [{"name": "cam", "source": {"type": "demo"}, "detect_fps": 5,
                                     "skip_unanalysed": skip}]})
    outbox = Outbox(cfg.queue.path)
    out = Outputs(cfg, Topics(cfg.mqtt.topic_prefix, cfg.site), outbox, None, None)
    pipeline = FramePipeline(cfg, cfg.cameras[0], detector=detector)
    analysed: list[float] = []
    process = pipeline.process

    def recording(frame: Frame):  # type: ignore[no-untyped-def]
        analysed.append(frame.time)
        return process(frame)

    pipeline.process = recording  # type: ignore[method-assign]
    runner = CameraRunner(cfg.cameras[0], pipeline, out)
    stream = RecordedStream(clip)
    stream.slot = runner.worker.frames
    runner.worker.source_factory = lambda: stream  # type: ignore[assignment,return-value]
    runner.start()
    try:
        assert stream.done.wait(300), "the clip was not read to its end"
        wait_for(lambda: runner.worker.frames.wait_taken(0.1) and not runner._analysing, 30, what="analysis done")
    finally:
        runner.stop()
    msgs = [json.loads(m.payload) for m in outbox.take(10_000) if m.topic.endswith("/event")]
    outbox.close()
    return msgs, analysed, stream


@pytest.mark.timeout(600)
def test_retrieving_only_analysed_frames_keeps_the_verdicts(tmp_path: Path, clip, detector) -> None:  # type: ignore[no-untyped-def]
    every, analysed_every, s_every = _run(tmp_path / "every", clip, detector, skip=False)
    skipped, analysed_skip, s_skip = _run(tmp_path / "skip", clip, detector, skip=True)
    print(f"retrieved {len(s_every.retrieved)} vs {len(s_skip.retrieved)} frames; analysed {len(analysed_every)};"
          f" events {[(e['verdict'], e['track_id']) for e in every]}")
    assert len(s_every.retrieved) == len(clip)
    assert len(s_skip.retrieved) < 0.5 * len(clip), "frames detect_fps does not take must not be retrieved"
    assert analysed_skip == analysed_every, "the same frames must be analysed"
    assert len(analysed_every) >= 0.9 * SECONDS * 5
    assert every, "the clip has a person without a mask: there must be an event"
    key = [(e["verdict"], e["track_id"], e["box"], e["votes"], e["time"]) for e in every]
    assert [(e["verdict"], e["track_id"], e["box"], e["votes"], e["time"]) for e in skipped] == key


def test_a_stream_that_fails_while_skipping_still_goes_offline() -> None:
    """Grab errors are errors whether or not the frame would have been retrieved."""
    from edge_agent.sources import CaptureWorker

    class Failing(RecordedStream):
        def grab(self) -> float:
            if self.i >= 3:
                raise SourceError("stream lost")
            return super().grab()

    stream = Failing([np.zeros((H, W, 3), np.uint8)] * 10)
    worker = CaptureWorker("c", lambda: stream)  # type: ignore[arg-type,return-value]
    worker.wanted = lambda t: False
    worker.start()
    try:
        wait_for(lambda: worker.errors >= 1, 10, what="the grab error")
        assert worker.state.state == "offline" and "stream lost" in (worker.state.reason or "")
        assert stream.retrieved == [0], "only the first frame (the camera's resolution) is retrieved"
        assert worker.skipped == 3  # frames 1-3; the fourth grab failed
    finally:
        worker.stop()


def test_real_rtsp_stream_grabbed_only_stays_live(server) -> None:  # type: ignore[no-untyped-def]
    """A real GStreamer RTSP stream (tests/conftest.py's ``server``), only every third frame retrieved: the
    stream keeps going (no read timeout, no reconnect), the others are counted as skipped, the retrieved
    ones are whole frames."""
    from edge_agent.config import CameraConfig
    from edge_agent.sources import make_worker

    camera = CameraConfig.model_validate({"name": "c", "source": {"type": "rtsp", "url": server.url},
                                          "read_timeout_s": 5})
    worker = make_worker(camera)
    grabbed = [0]

    def every_third(_: float) -> bool:
        grabbed[0] += 1
        return grabbed[0] % 3 == 0

    worker.wanted = every_third
    worker.start()
    taken: list[Frame] = []
    try:
        while len(taken) < 12:
            frame = worker.frames.get(10.0)
            assert frame is not None, f"no frame: {worker.state}"
            taken.append(frame)
    finally:
        worker.stop()
    assert worker.reconnects == 0 and worker.errors == 0
    assert worker.skipped >= 2 * (len(taken) - 2), f"{worker.skipped} skipped for {len(taken)} retrieved"
    assert all(f.size == (W, H) and f.image.std() > 5 for f in taken), "retrieved frames are whole pictures"
    assert [f.seq for f in taken] == sorted({f.seq for f in taken}), "sequence numbers count every grab"
    assert taken[-1].seq - taken[1].seq >= 3 * (len(taken) - 2) - 1
