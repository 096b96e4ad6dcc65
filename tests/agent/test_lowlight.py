"""Low-light normalisation of the detector's input: dark frames are brought to the target mean, bright frames
are passed through untouched (so daylight results cannot change), and the detector finds a face in a dark
frame it misses without it (real CenterFace on a darkened photo)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.config import CenterFaceConfig, LowLightConfig
from edge_agent.core.detections import Faces
from edge_agent.detectors import create_detector
from edge_agent.lowlight import LowLight, gain_for, mean_grey, merge
from edge_agent.sources.walks import darken


@pytest.mark.parametrize(("mean", "target", "expected"), [(110.0, 110.0, 1.0), (200.0, 110.0, 1.0),
                                                           (55.0, 110.0, 2.0), (0.0, 110.0, 8.0)])
def test_gain_for(mean: float, target: float, expected: float) -> None:
    assert gain_for(mean, target) == pytest.approx(expected)


def test_dark_frames_are_brought_to_the_target_and_bright_ones_untouched(astronaut: np.ndarray) -> None:
    ll = LowLight(LowLightConfig())
    out, dark = ll(astronaut)
    assert out is astronaut and not dark  # daylight: the very same array
    dim = darken(astronaut, seed=1)
    assert mean_grey(dim) < 40
    out, dark = ll(dim)
    assert dark and out.shape == dim.shape and out.dtype == np.uint8
    assert 90 < mean_grey(out) < 130 and ll.applied == 1
    assert np.std(out.astype(np.float32) - cv2.GaussianBlur(out, (0, 0), 2).astype(np.float32)) < \
        np.std(dim.astype(np.float32) * (mean_grey(out) / mean_grey(dim))
               - cv2.GaussianBlur(dim, (0, 0), 2).astype(np.float32) * (mean_grey(out) / mean_grey(dim))), \
        "denoised before the gain: less fine-grain noise than a plain gain"
    assert LowLight(LowLightConfig(enabled=False))(dim) == (dim, False)
    grey = cv2.cvtColor(dim, cv2.COLOR_BGR2GRAY)
    assert mean_grey(ll(grey)[0]) > 80  # a grey camera (night mode) too


def test_the_detector_threshold_is_lowered_only_in_dark_frames() -> None:
    from edge_agent.config import parse_config
    from edge_agent.pipeline import FaceAnalyzer

    class Spy:
        def __init__(self) -> None:
            self.thresholds: list[float | None] = []

        def detect(self, frame: np.ndarray, score_threshold: float | None = None):  # noqa: ANN201
            self.thresholds.append(score_threshold)
            from edge_agent.core.detections import Faces
            return Faces.empty()

    spy = Spy()
    cfg = parse_config({"detector": {"type": "centerface", "score_threshold": 0.4}, "low_light": {"raw_pass": False}})
    from types import SimpleNamespace

    fa = FaceAnalyzer(cfg, detector=spy, classifier=SimpleNamespace(labels=("with_mask",)))  # type: ignore[arg-type]
    fa.detect(np.full((100, 100, 3), 150, np.uint8))
    fa.detect(np.full((100, 100, 3), 10, np.uint8))
    assert spy.thresholds == [None, pytest.approx(0.16)]


def test_a_dark_frame_gets_a_second_pass_as_it_is_and_the_faces_of_both_are_merged() -> None:
    """``raw_pass`` (default): the enhanced frame and the frame as it is each go through the detector, at the
    lowered threshold; a face found in only one pass is kept, a face found in both is kept once."""
    from types import SimpleNamespace

    from edge_agent.config import parse_config
    from edge_agent.pipeline import FaceAnalyzer

    dark = np.full((100, 200, 3), 10, np.uint8)

    class TwoPasses:
        def __init__(self) -> None:
            self.calls: list[tuple[bool, float | None]] = []

        def detect(self, frame: np.ndarray, score_threshold: float | None = None) -> Faces:
            raw = frame is dark
            self.calls.append((raw, score_threshold))
            if raw:  # the frame as it is: one face of its own, one the enhanced pass also finds (scored lower)
                return Faces(np.array([[10, 10, 40, 40], [100, 10, 140, 50]], np.float32), np.array([0.5, 0.3]))
            return Faces(np.array([[101, 11, 141, 51]], np.float32), np.array([0.6], np.float32))

    det = TwoPasses()
    cfg = parse_config({"detector": {"type": "centerface", "score_threshold": 0.4}})
    fa = FaceAnalyzer(cfg, detector=det, classifier=SimpleNamespace(labels=("with_mask",)))  # type: ignore[arg-type]
    faces = fa.detect(dark)
    assert det.calls == [(False, pytest.approx(0.16)), (True, pytest.approx(0.16))]
    assert faces.xyxy.tolist() == [[101, 11, 141, 51], [10, 10, 40, 40]] and faces.score.tolist() == \
        pytest.approx([0.6, 0.5])
    det.calls.clear()
    fa.detect(np.full((100, 200, 3), 150, np.uint8))
    assert det.calls == [(False, None)]  # daylight: one pass, as before


def test_merge_keeps_the_higher_score_of_overlapping_faces_and_their_landmarks() -> None:
    lm = np.zeros((1, 5, 2), np.float32)
    a = Faces(np.array([[0, 0, 10, 10]], np.float32), np.array([0.4], np.float32), landmarks=lm)
    b = Faces(np.array([[1, 0, 11, 10], [50, 50, 60, 60]], np.float32), np.array([0.7, 0.2], np.float32),
              landmarks=np.ones((2, 5, 2), np.float32))
    out = merge(a, b, 100, 100, 0.3)
    assert out.xyxy.tolist() == [[1, 0, 11, 10], [50, 50, 60, 60]]
    assert out.landmarks[:, 0, 0].tolist() == [1.0, 1.0]
    assert merge(a, Faces.empty(), 100, 100, 0.3) is a and merge(Faces.empty(), b, 100, 100, 0.3) is b


def test_the_detector_scores_a_small_dark_face_higher_with_it(astronaut: np.ndarray) -> None:
    """A 64 px face in a dark 640x360 frame (real CenterFace): normalised, its score rises."""
    det = create_detector(CenterFaceConfig(type="centerface", score_threshold=0.05))
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[100:164, 300:364] = cv2.resize(astronaut, (64, 64), interpolation=cv2.INTER_AREA)
    dim = darken(frame, gamma=2.6, gain=0.12, seed=2)
    best = lambda faces: float(faces.score.max()) if len(faces) else 0.0  # noqa: E731
    before, after = best(det.detect(dim)), best(det.detect(LowLight(LowLightConfig())(dim)[0]))
    print(f"score of the dark face: {before:.2f} without, {after:.2f} with low-light normalisation")
    assert after > before + 0.05
