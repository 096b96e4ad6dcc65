"""The tracker follows the achieved analysis rate: a slow board still decides every person."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edge_agent.core.detections import Faces
from edge_agent.core.rate import AnalysisRate, adapt_to_rate
from edge_agent.core.tracking import Tracker, TrackerParams

LABELS = ("with_mask", "without_mask", "mask_incorrect")
CONFIGURED = TrackerParams()  # votes 3 of window 5, tracks kept 2 s: meant for detect_fps 5


@pytest.mark.parametrize(("achieved", "votes", "window", "max_age_s"), [
    (None, 3, 5, 2.0),  # not measured yet
    (5.0, 3, 5, 2.0),   # at the configured rate: unchanged
    (8.0, 3, 5, 2.0),   # faster: unchanged
    (3.0, 2, 4, 2.0),
    (1.0, 2, 3, 3.0),
    (0.2, 2, 3, 15.0),
])
def test_adapt_to_rate(achieved: float | None, votes: int, window: int, max_age_s: float) -> None:
    p = adapt_to_rate(CONFIGURED, 5.0, achieved)
    assert (p.votes, p.window, p.max_age_s) == (votes, window, pytest.approx(max_age_s))
    assert p.iou_threshold == CONFIGURED.iou_threshold and p.min_confidence == CONFIGURED.min_confidence


def test_configured_single_vote_is_kept() -> None:
    p = adapt_to_rate(TrackerParams(votes=1, window=1), 5.0, 0.5)
    assert (p.votes, p.window) == (1, 1)


def test_analysis_rate_ignores_outages() -> None:
    rate = AnalysisRate()
    for t in (0.0, 1.0, 2.0, 3.0, 500.0, 501.0):
        rate.observe(t)
    assert rate.fps == pytest.approx(1.0)


def _walk(tracker: Tracker, fps: float, people: int, seen: tuple[int, ...], label: int = 1,
          warmup_s: float = 10.0) -> list[str]:
    """People cross one after another, analysed at ``fps``. Each is in view for ``len(seen)`` analysed frames
    (walking 60 px per frame with an 80 px face) and detected only in the frames where ``seen`` is 1.
    Before them, ``warmup_s`` of frames with nobody (the rate is measured on every analysed frame)."""
    t, verdicts = 0.0, []
    for _ in range(int(warmup_s * fps)):
        tracker.update(Faces.empty(), t)
        t += 1.0 / fps
    for person in range(people):
        for k, visible in enumerate(seen):
            f = Faces.empty()
            if visible:
                x = 60.0 * k
                y = 200.0 * (person % 3)  # lanes
                f = Faces(np.array([[x, y, x + 80, y + 80]], np.float32), np.ones(1, np.float32),
                          np.array([label]), np.array([0.9], np.float32))
            verdicts += [d.verdict for d in tracker.update(f, t).decisions]
            t += 1.0 / fps
        for _ in range(int(4 * fps)):  # a gap of 4 s with nobody in view
            tracker.update(Faces.empty(), t)
            t += 1.0 / fps
    return verdicts


def test_one_frame_per_second_decides_every_person() -> None:
    """At 1 frame/s a walker is in view for 3 analysed frames, and the detector misses one of them (a turned
    head). Configured for 5 frames/s (3 votes) nobody would be decided; following the rate, everyone is."""
    seen = (1, 0, 1)
    adaptive = Tracker(CONFIGURED, LABELS, reference_fps=5.0)
    assert _walk(adaptive, 1.0, 12, seen) == ["without_mask"] * 12
    fixed = Tracker(CONFIGURED, LABELS)  # the tracker before this change
    assert _walk(fixed, 1.0, 12, seen) == []


def test_a_slow_board_keeps_tracks_between_frames() -> None:
    """At 0.4 frames/s (2.5 s apart) the configured 2 s age would end every track after one frame."""
    adaptive = Tracker(CONFIGURED, LABELS, reference_fps=5.0)
    assert _walk(adaptive, 0.4, 6, (1, 1, 1)) == ["without_mask"] * 6
    assert _walk(Tracker(CONFIGURED, LABELS), 0.4, 6, (1, 1, 1)) == []


def test_at_the_configured_rate_nothing_changes() -> None:
    """At 5 frames/s, two agreeing frames are still not enough (votes 3), and one track per person."""
    tracker = Tracker(CONFIGURED, LABELS, reference_fps=5.0)
    assert _walk(tracker, 5.0, 4, (1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)) == []
    assert tracker.effective == CONFIGURED
    tracker = Tracker(CONFIGURED, LABELS, reference_fps=5.0)
    assert _walk(tracker, 5.0, 4, (1, 0, 1, 1)) == ["without_mask"] * 4


def test_one_frame_never_decides_on_a_slow_board() -> None:
    tracker = Tracker(CONFIGURED, LABELS, reference_fps=5.0)
    assert _walk(tracker, 0.5, 5, (1,)) == []
    assert tracker.effective is not None and tracker.effective.votes == 2


def test_the_agent_says_when_it_cannot_keep_up(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A pipeline that takes 0.4 s per frame cannot analyse 5 frames/s: the stats interval logs it, with the
    adapted tracker settings."""
    import logging
    import time

    from helpers.agent import RuntimeThread, agent_config
    from helpers.fakes import FakeClassifier
    from helpers.net import free_port, wait_for

    from edge_agent.pipeline import FramePipeline

    class Slow(FramePipeline):
        def process(self, frame):  # noqa: ANN001, ANN201
            time.sleep(0.4)
            return super().process(frame)

    def factory(config, camera):  # noqa: ANN001, ANN202
        return Slow(config, camera, classifier=FakeClassifier())

    camera = {"name": "door", "source": {"type": "demo", "fps": 10, "width": 320, "height": 240}, "detect_fps": 5}
    cfg = agent_config(tmp_path, free_port(), [camera], detector={"type": "fake", "boxes": [[10, 10, 60, 60]]},
                       snapshots={"enabled": False})
    caplog.set_level(logging.WARNING, logger="edge_agent.runtime")
    rt = RuntimeThread(cfg, pipeline_factory=factory).start()
    try:
        # the first interval may end before the tracker has measured the rate (it then says 3 votes of 5)
        wait_for(lambda: any("cannot keep up" in r.getMessage() and "2 votes" in r.getMessage()
                             for r in caplog.records), 30, what="the warning")
    finally:
        rt.stop()
    message = next(r.getMessage() for r in caplog.records
                   if "cannot keep up" in r.getMessage() and "2 votes" in r.getMessage())
    assert "camera door" in message and "of detect_fps 5" in message
    assert re.search(r"tracker adapted: 2 votes of [2-4] frames, tracks kept \d", message), message
