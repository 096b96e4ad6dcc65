"""Load the configured detector and classifier and run them once on a shipped photo.

What ``maskwatch config check`` and the installer's sanity step run: a config that validates can still name
a model file that is missing or corrupt, or a runtime (cv2, the TFLite interpreter) that cannot load on this
board; this finds out before the service starts. Errors are ConfigErrors naming the config key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge_agent.assets import ASTRONAUT_JPG
from edge_agent.config import Config, ConfigError


@dataclass(frozen=True, slots=True)
class SelfCheck:
    """One inference on ``edge_agent/assets/astronaut.jpg`` (one unmasked face)."""

    detector: str
    faces: int
    verdict: str | None  # the classifier's label for the highest-scoring face
    probability: float
    load_ms: float
    infer_ms: float

    def summary(self) -> str:
        found = f"{self.faces} face(s), {self.verdict} {self.probability:.2f}" if self.faces else "no face"
        return (f"detector {self.detector} and classifier loaded in {self.load_ms:.0f} ms; "
                f"one inference on the shipped test photo: {found} in {self.infer_ms:.0f} ms")


def self_check(config: Config) -> SelfCheck:
    """Load models as the agent would (same factories), then analyse the test photo once."""
    try:
        import cv2
    except ImportError as err:  # e.g. the GUI build of OpenCV without libGL on a minimal system
        raise ConfigError(f"cannot import OpenCV (cv2): {err}") from None
    from edge_agent.classifier import Classifier, ModelError
    from edge_agent.detectors import DetectorError, create_detector
    from edge_agent.pipeline import FaceAnalyzer

    t0 = time.perf_counter()
    try:
        detector = create_detector(config.detector)
    except DetectorError as err:
        msg = str(err)
        raise ConfigError(msg if msg.startswith("detector") else f"detector ({config.detector.type}): {msg}") from None
    try:
        classifier = Classifier(config.classifier.model_card, config.classifier.threads)
    except ModelError as err:
        raise ConfigError(f"classifier.model_card: {err}") from None
    load_ms = (time.perf_counter() - t0) * 1000.0
    image = cv2.imread(str(ASTRONAUT_JPG))
    if image is None:
        raise ConfigError(f"cannot read the shipped test photo {ASTRONAUT_JPG} (broken install?)")
    analyzer = FaceAnalyzer(config, None, detector=detector, classifier=classifier)
    t1 = time.perf_counter()
    faces = analyzer.analyse(image)
    infer_ms = (time.perf_counter() - t1) * 1000.0
    if not len(faces):
        return SelfCheck(config.detector.type, 0, None, 0.0, load_ms, infer_ms)
    best = int(np.argmax(faces.score))
    label = classifier.labels[int(faces.class_id[best])]
    return SelfCheck(config.detector.type, len(faces), label, float(faces.class_score[best]), load_ms, infer_ms)
