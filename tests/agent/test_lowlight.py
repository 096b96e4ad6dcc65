"""Low-light normalisation of the detector's input: dark frames are brought to the target mean, bright frames
are passed through untouched (so daylight results cannot change), and the detector finds a face in a dark
frame it misses without it (real CenterFace on a darkened photo)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.config import CenterFaceConfig, LowLightConfig
from edge_agent.detectors import create_detector
from edge_agent.lowlight import LowLight, gain_for, mean_grey
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
    cfg = parse_config({"detector": {"type": "centerface", "score_threshold": 0.4}})
    from types import SimpleNamespace

    fa = FaceAnalyzer(cfg, detector=spy, classifier=SimpleNamespace(labels=("with_mask",)))  # type: ignore[arg-type]
    fa.detect(np.full((100, 100, 3), 150, np.uint8))
    fa.detect(np.full((100, 100, 3), 10, np.uint8))
    assert spy.thresholds == [None, pytest.approx(0.16)]


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
