"""A detector for tests: the same configured boxes on every frame (clipped to it)."""

from __future__ import annotations

import numpy as np

from edge_agent.core.detections import Faces
from edge_agent.detectors.base import Image, check_frame
from edge_agent.detectors.configs import FakeDetectorConfig


class FakeDetector:
    def __init__(self, cfg: FakeDetectorConfig) -> None:
        self._boxes = np.asarray(cfg.boxes, dtype=np.float32).reshape(-1, 4)
        self._score = float(cfg.score)

    def detect(self, frame_bgr: Image, score_threshold: float | None = None) -> Faces:
        check_frame(frame_bgr)
        h, w = frame_bgr.shape[:2]
        boxes = self._boxes.copy()
        np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Faces(boxes[keep], np.full(int(keep.sum()), self._score, np.float32))
