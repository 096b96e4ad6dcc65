"""Stopping while a frame is in analysis waits for it (a slow board, or emulation, spends seconds on one frame;
the process must not exit with native code still running in that thread: it aborts, exit code 134)."""

from __future__ import annotations

import threading
import time

from helpers.agent import RuntimeThread, agent_config
from helpers.fakes import FakeClassifier
from helpers.net import free_port, wait_for

from edge_agent.pipeline import FramePipeline


def test_stop_waits_for_the_frame_in_analysis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inside, finished = threading.Event(), threading.Event()

    class Slow(FramePipeline):
        def process(self, frame):  # noqa: ANN001, ANN201
            inside.set()
            time.sleep(7.0)  # longer than the runner's 5 s join
            result = super().process(frame)
            finished.set()
            return result

    def factory(config, camera):  # noqa: ANN001, ANN202
        return Slow(config, camera, classifier=FakeClassifier())

    camera = {"name": "door", "source": {"type": "demo", "fps": 5, "width": 320, "height": 240}, "detect_fps": 1}
    cfg = agent_config(tmp_path, free_port(), [camera], detector={"type": "fake", "boxes": [[10, 10, 60, 60]]})
    rt = RuntimeThread(cfg, pipeline_factory=factory).start()
    wait_for(inside.is_set, 30, what="a frame in analysis")
    rt.stop(timeout=60)
    runner = rt.runtime.runners[0]
    assert finished.is_set()
    assert runner._thread is not None and not runner._thread.is_alive()
