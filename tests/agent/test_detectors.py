"""Contract tests: every registered detector goes through the same suite."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.config import BlazeFaceConfig, CenterFaceConfig, FakeDetectorConfig, parse_config
from edge_agent.core.detections import Faces, iou_matrix
from edge_agent.core.evidence import frontal_score
from edge_agent.detectors import REGISTRY, Detector, DetectorError, create_detector
from edge_agent.detectors.base import finish
from edge_agent.detectors.blazeface import ssd_anchors
from edge_agent.detectors.centerface import adjust_boxes, decode, decode_landmarks, input_size

ASTRONAUT_FACE = (180, 60, 272, 180)  # hand-measured face box in the shipped astronaut (512x512)

CONFIGS = {
    "centerface": CenterFaceConfig(type="centerface", box_adjust=(0.0, 0.0, 1.0, 1.0)),
    "blazeface": BlazeFaceConfig(type="blazeface"),
    "fake": FakeDetectorConfig(type="fake", boxes=[ASTRONAUT_FACE, (400, -20, 600, 100)]),
}


#: every kind, plus the other runtimes of a kind
CONTRACT = {**CONFIGS, "centerface onnxruntime": CONFIGS["centerface"].model_copy(update={"runtime": "onnxruntime"})}


def test_every_registered_detector_is_under_contract() -> None:
    assert set(CONFIGS) == set(REGISTRY)


@pytest.fixture(scope="module", params=sorted(CONTRACT))
def detector(request: pytest.FixtureRequest) -> Detector:
    if "onnxruntime" in request.param:
        pytest.importorskip("onnxruntime")
    return create_detector(CONTRACT[request.param])


def test_both_centerface_runtimes_give_the_same_faces() -> None:
    pytest.importorskip("onnxruntime")
    from edge_agent.sources.demo import DemoScene

    cv = create_detector(CONFIGS["centerface"])
    ort = create_detector(CONTRACT["centerface onnxruntime"])
    for size in [(640, 480), (1280, 720)]:
        frame = DemoScene(*size).render(6.0)
        a, b = cv.detect(frame), ort.detect(frame)
        assert len(a) == len(b) >= 1
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)
        np.testing.assert_allclose(a.score, b.score, atol=1e-3)


def test_is_a_detector(detector: Detector) -> None:
    assert isinstance(detector, Detector)


def test_finds_the_astronauts_face(detector: Detector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert isinstance(faces, Faces)
    assert len(faces) >= 1
    assert iou_matrix(faces.xyxy, [ASTRONAUT_FACE]).max() >= 0.5
    assert np.all((faces.score > 0) & (faces.score <= 1))


@pytest.mark.parametrize("shape", [(512, 512), (480, 640), (720, 1280), (333, 517), (64, 48)])
def test_boxes_inside_the_frame(detector: Detector, astronaut: np.ndarray, shape: tuple[int, int]) -> None:
    h, w = shape
    frame = np.full((h, w, 3), 90, np.uint8)
    side = min(h, w)  # the face sticks out of the frame's left and top edges
    frame[:side, :side] = cv2.resize(astronaut, (side, side))[:side, :side]
    frame = np.ascontiguousarray(np.roll(frame, (-side // 8, -side // 4), axis=(0, 1)))
    faces = detector.detect(frame)
    assert np.all(faces.xyxy[:, [0, 1]] >= 0) and np.all(faces.xyxy[:, 2] <= w) and np.all(faces.xyxy[:, 3] <= h)
    assert np.all(faces.xyxy[:, 2] > faces.xyxy[:, 0]) and np.all(faces.xyxy[:, 3] > faces.xyxy[:, 1])


def test_blank_frame_has_no_real_faces(detector: Detector) -> None:
    if isinstance(detector, type(create_detector(CONFIGS["fake"]))):
        pytest.skip("the fake returns its configured boxes on any frame, by design")
    assert len(detector.detect(np.zeros((480, 640, 3), np.uint8))) == 0


def test_rejects_non_bgr_frames(detector: Detector) -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        detector.detect(np.zeros((10, 10), np.uint8))


def test_create_from_config_dict() -> None:
    cfg = parse_config({"detector": {"type": "blazeface", "range": "short"}})
    assert create_detector(cfg.detector).detect(np.zeros((100, 100, 3), np.uint8)) is not None


def test_wrong_config_class_is_refused() -> None:
    with pytest.raises(DetectorError, match="CenterFaceConfig"):
        create_detector(BlazeFaceConfig(type="blazeface").model_copy(update={"type": "centerface"}))


def test_missing_model_file_fails_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DetectorError, match="does not exist"):
        create_detector(CenterFaceConfig(type="centerface", model=tmp_path / "nope.onnx"))


@pytest.mark.parametrize(("w", "h", "scale", "expected"), [
    (640, 480, 1.0, (640, 480)), (1280, 720, 0.5, (640, 384)), (400, 301, 2.0, (800, 608)), (10, 10, 1.0, (32, 32)),
])
def test_centerface_input_size(w: int, h: int, scale: float, expected: tuple[int, int]) -> None:
    assert input_size(w, h, scale) == expected


def test_centerface_decode_hand_computed() -> None:
    heat = np.zeros((4, 4), np.float32)
    heat[1, 2] = 0.8  # grid row 1, column 2
    scale = np.zeros((2, 4, 4), np.float32)
    scale[:, 1, 2] = np.log(5.0)  # exp(log 5) * 4 = 20 px high and wide
    offset = np.zeros((2, 4, 4), np.float32)
    offset[1, 1, 2] = 0.25  # x offset: centre x = (2 + 0.25 + 0.5) * 4 = 11, centre y = (1 + 0.5) * 4 = 6
    boxes, scores = decode(heat, scale, offset, 0.5)
    np.testing.assert_allclose(boxes, [[1, -4, 21, 16]], atol=1e-5)
    np.testing.assert_allclose(scores, [0.8])


def test_centerface_landmarks_hand_computed() -> None:
    heat = np.zeros((4, 4), np.float32)
    heat[1, 2] = 0.8
    scale = np.zeros((2, 4, 4), np.float32)
    scale[:, 1, 2] = np.log(5.0)  # a 20 x 20 box from (1, -4)
    offset = np.zeros((2, 4, 4), np.float32)
    offset[1, 1, 2] = 0.25
    lms = np.zeros((10, 4, 4), np.float32)
    lms[:, 1, 2] = [0.25, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0]  # (y, x) fractions of the box
    boxes, scores, points = decode_landmarks(heat, scale, offset, lms, 0.5)
    np.testing.assert_allclose(boxes, [[1, -4, 21, 16]], atol=1e-5)
    np.testing.assert_allclose(points, [[[11, 1], [11, 6], [1, -4], [1, 16], [21, 16]]], atol=1e-5)


@pytest.mark.parametrize("kind", ["centerface", "blazeface"])
def test_detectors_give_five_landmarks_on_the_face(kind: str, astronaut: np.ndarray) -> None:
    faces = create_detector(CONFIGS[kind]).detect(astronaut)
    assert faces.landmarks.shape == (len(faces), 5, 2) and not np.isnan(faces.landmarks).any()
    (x1, y1, x2, y2), lm = faces.xyxy[0], faces.landmarks[0]
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    assert lm[0, 0] < lm[2, 0] < lm[1, 0]  # nose between the eyes, left to right in the image
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])  # eyes above the nose above the mouth
    assert frontal_score(lm)[0] > 0.7  # she faces the camera


def test_finish_keeps_landmarks_with_their_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 52, 52], [30, 30, 45, 45]], np.float32)
    scores = np.array([0.5, 0.9, 0.8, 0.7], np.float32)
    lm = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 5, 2), np.float32)  # face k: all k
    out = finish(boxes, scores, 100, 100, 5, 0.3, lm)  # face 2 is too small, face 0 loses the NMS to face 1
    assert not np.isnan(out.landmarks).any()
    np.testing.assert_array_equal(out.landmarks[:, 0, 0], [1, 3])
    assert out[np.array([False, True])].landmarks[0, 0, 0] == 3
    assert out.scaled(2.0, 0.5).landmarks[0, 0].tolist() == [2.0, 0.5]


def test_box_adjust_hand_computed() -> None:
    out = adjust_boxes(np.array([[0, 0, 10, 20]], np.float32), (0.1, 0.5, 2.0, 0.5))
    # centre (5, 10) -> (6, 20); size 10x20 -> 20x10
    np.testing.assert_allclose(out, [[-4, 15, 16, 25]])
    # then pixels: centre (6, 20) -> (7, 19.5); size 20x10 -> 22x13
    out = adjust_boxes(np.array([[0, 0, 10, 20]], np.float32), (0.1, 0.5, 2.0, 0.5), (1.0, -0.5, 2.0, 3.0))
    np.testing.assert_allclose(out, [[-4, 13, 18, 26]])


@pytest.mark.parametrize(("size", "strides", "two", "n"), [(128, (8, 16, 16, 16), True, 896), (192, (4,), False, 2304)])
def test_blazeface_anchor_counts(size: int, strides: tuple[int, ...], two: bool, n: int) -> None:
    a = ssd_anchors(size, strides, two)
    assert a.shape == (n, 2)
    assert a.min() > 0 and a.max() < 1
    np.testing.assert_allclose(a[0], [0.5 / (size // strides[0])] * 2)


@pytest.mark.data
@pytest.mark.slow
def test_quality_gate_centerface_recall_on_andrewmvd() -> None:
    """The eval profile found 129 of the 134 faces (0.963) of the first 40 andrewmvd images at IoU >= 0.5
    (2026-11-23: x2, score >= 0.2); 128 with box_adjust_px at x2, 129 at x2.5 (2026-12-01). The gate allows a little slack,
    not a regression."""
    from pathlib import Path

    from edge_agent.core.tracking import greedy_match
    from edge_agent.evaluation.data import read_voc

    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "andrewmvd"
    if not (data / "annotations").is_dir():
        pytest.skip(f"{data} not found (../shared/data is absent here)")
    cv2.setNumThreads(1)
    from edge_agent.commands.detect import ACCURACY_PROFILE

    det = create_detector(CenterFaceConfig(type="centerface", **ACCURACY_PROFILE["centerface"]))
    found = total = 0
    for s in read_voc(data, limit=40):
        faces = det.detect(cv2.imread(str(s.image)))
        total += len(s.boxes)
        found += len(greedy_match(iou_matrix(s.boxes, faces.xyxy), 0.5))
    assert total == 134
    print(f"found {found} of {total}")
    assert found / total >= 0.94
