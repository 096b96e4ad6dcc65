"""One frame object end to end: Faces columns (track ids included), the Decision's guarantees and the payload
converters (the runtime's own detector cache: tests/agent/test_runtime.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from edge_agent.core.detections import Faces
from edge_agent.core.frames import Frame, FrameResult
from edge_agent.core.tracking import Tracker, TrackerParams
from edge_agent.core.verdicts import Decision
from edge_agent.events import CameraStatus, ViolationEvent
from edge_agent.sources import CameraState

LABELS = ("with_mask", "without_mask", "mask_incorrect")


def _faces(n: int) -> Faces:
    boxes = np.array([[10 * i, 0, 10 * i + 8, 8] for i in range(n)], np.float32)
    return Faces(boxes, np.linspace(0.5, 0.9, n, dtype=np.float32))


def test_every_column_has_a_row_per_face_and_follows_a_mask() -> None:
    f = _faces(3).with_classes([0, 1, 2], [0.7, 0.8, 0.9]).with_track_ids([5, 6, 7])
    kept = f[np.array([True, False, True])]
    assert kept.track_ids == (5, 7)
    assert kept.class_id.tolist() == [0, 2]
    assert kept.xyxy.tolist() == [[0, 0, 8, 8], [20, 0, 28, 8]]
    assert _faces(2).track_id.tolist() == [0, 0]  # not tracked yet
    assert _faces(2).class_id.tolist() == [-1, -1]  # not classified yet
    assert all("dtype" in fl.metadata for fl in dataclasses.fields(Faces))  # each column is one declaration


@pytest.mark.parametrize(("column", "value"), [
    ("score", np.zeros(3)), ("class_id", np.zeros(1)), ("class_score", np.zeros(5)), ("track_id", np.zeros(3)),
])
def test_a_column_of_the_wrong_length_is_refused_by_name(column: str, value: np.ndarray) -> None:
    with pytest.raises(ValueError, match=column):
        dataclasses.replace(_faces(2), **{column: value})


def test_the_tracker_fills_the_track_id_column() -> None:
    tr = Tracker(TrackerParams(votes=1, window=1, min_confidence=0.5), LABELS)
    up = tr.update(_faces(2).with_classes([1, 0], [0.9, 0.9]), 0.0)
    assert up.faces.track_id.tolist() == [1, 2] and up.track_ids == (1, 2)
    assert up.faces.class_id.tolist() == [1, 0]  # the other columns travel with it
    assert {d.verdict for d in up.decisions} == {"without_mask", "with_mask"}


def test_the_result_carries_its_frame_and_the_boxes_to_blur() -> None:
    frame = Frame(np.zeros((48, 64, 3), np.uint8), 12.5, 3)
    faces = _faces(3).with_track_ids([1, 2, 3])
    r = FrameResult(frame, faces, outside_roi=((1.0, 2.0, 3.0, 4.0),))
    assert r.time == 12.5 and r.frame.size == (64, 48) and r.track_ids == (1, 2, 3)
    assert r.other_boxes(2) == [[0, 0, 8, 8], [20, 0, 28, 8], [1.0, 2.0, 3.0, 4.0]]


@pytest.mark.parametrize(("change", "word"), [
    ({"verdict": "masked"}, "verdict"),
    ({"confidence": 1.01}, "confidence"),
    ({"votes": 0}, "votes"),
    ({"box": (1.5, 2, 3, 4)}, "box"),
])
def test_a_decision_holds_what_the_payload_requires(change: dict[str, object], word: str) -> None:
    args: dict[str, object] = {"track_id": 1, "verdict": "without_mask", "confidence": 0.8, "votes": 3,
                               "box": (1, 2, 3, 4), "time": 10.0}
    with pytest.raises(ValueError, match=word):
        Decision(**{**args, **change})  # type: ignore[arg-type]


def test_violation_event_from_decision() -> None:
    d = Decision(7, "mask_incorrect", 0.75, 4, (10, 20, 30, 40), 1_700_000_000.0)
    e = ViolationEvent.from_decision(d, site="hq", agent="pi", camera="door", event_id="e1", frame_size=(640, 480),
                                     box=(11, 21, 31, 41), snapshot="maskwatch/hq/camera/door/snapshot/e1",
                                     snapshot_region=(0, 0, 100, 100))
    assert e == ViolationEvent(site="hq", agent="pi", time=datetime.fromtimestamp(d.time, UTC), event_id="e1",
                               camera="door", track_id=7, verdict="mask_incorrect", confidence=0.75,
                               box=(11, 21, 31, 41), frame_size=(640, 480), votes=4,
                               snapshot="maskwatch/hq/camera/door/snapshot/e1", snapshot_region=(0, 0, 100, 100))
    plain = ViolationEvent.from_decision(d, site="hq", agent="pi", camera="door", event_id="e2", frame_size=(640, 480))
    assert plain.box == d.box and plain.snapshot is None
    with pytest.raises(ValueError, match="not a violation"):
        ViolationEvent.from_decision(dataclasses.replace(d, verdict="with_mask"), site="hq", agent="pi",
                                     camera="door", event_id="e3", frame_size=(640, 480))


def test_camera_status_from_the_workers_state() -> None:
    long = CameraStatus.from_state(CameraState("offline", "x" * 900, (640, 480)), site="hq", agent="pi", camera="c")
    assert long.state == "offline" and long.reason == "x" * 500 and long.resolution == (640, 480)
    assert CameraStatus.from_state(CameraState("online", ""), site="hq", agent="pi", camera="c").reason is None
