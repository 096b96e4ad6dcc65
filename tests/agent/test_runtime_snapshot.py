"""Violation snapshot and preview JPEGs, on a real photo (scikit-image's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.config import PreviewConfig, SnapshotConfig
from edge_agent.events import is_jpeg
from edge_agent.snapshot import blur_boxes, context_region, preview_jpeg, violation_snapshot
from edge_agent.sources.demo import DemoScene

pytestmark = pytest.mark.timeout(60)


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    s = DemoScene()
    people = s.people_at(3.0)
    return s.render(3.0), [p.box for p in people]


def test_snapshot_is_a_jpeg_of_the_face_with_context(scene) -> None:  # noqa: ANN001
    frame, boxes = scene
    data = violation_snapshot(frame, boxes[0], boxes[1:], SnapshotConfig())
    assert is_jpeg(data)
    img = decode(data)
    x1, y1, x2, y2 = context_region(boxes[0], frame.shape[1], frame.shape[0])
    assert img.shape[:2] == (y2 - y1, x2 - x1)  # smaller than max_width: not scaled
    fw = boxes[0][2] - boxes[0][0]
    assert img.shape[1] >= 2 * fw  # context around the face, not just the face


def test_snapshot_is_scaled_down_to_max_width(scene) -> None:  # noqa: ANN001
    frame, boxes = scene
    img = decode(violation_snapshot(frame, boxes[0], [], SnapshotConfig(max_width=160)))
    assert img.shape[1] == 160


def test_blur_hides_other_faces_and_keeps_the_violator(scene) -> None:  # noqa: ANN001
    frame, boxes = scene
    blurred = blur_boxes(frame, boxes[1:])
    for x1, y1, x2, y2 in boxes[1:]:
        face, after = frame[y1:y2, x1:x2], blurred[y1:y2, x1:x2]
        detail = lambda a: cv2.Laplacian(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()  # noqa: E731
        assert detail(after) < detail(face) * 0.1
    x1, y1, x2, y2 = boxes[0]
    assert np.array_equal(blurred[y1:y2, x1:x2], frame[y1:y2, x1:x2])


def test_box_outside_the_frame_does_not_crash(scene) -> None:  # noqa: ANN001
    frame, _ = scene
    assert is_jpeg(violation_snapshot(frame, (5000, 5000, 5100, 5100), [(-50, -50, 10, 10)],
                                      SnapshotConfig()))


def test_preview_is_scaled_with_boxes(scene) -> None:  # noqa: ANN001
    frame, boxes = scene
    data = preview_jpeg(frame, boxes, ["with_mask", None] + ["without_mask"] * (len(boxes) - 2), PreviewConfig())
    img = decode(data)
    assert img.shape[1] == 480 and img.shape[0] == 270
