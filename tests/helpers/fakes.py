"""Fakes for fast tests: a classifier with the real classifier's interface and a scripted frame source."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from edge_agent.core.crop import CropSpec
from edge_agent.core.labels import LABELS
from edge_agent.sources.base import Frame, FrameSource, SourceError


class FakeClassifier:
    """Always answers ``label`` with probability ``p`` (the rest spread over the other labels)."""

    def __init__(self, label: str = "without_mask", p: float = 0.9) -> None:
        self.labels = LABELS
        self.crop = CropSpec(size=32, margin=0.1)
        self.index = LABELS.index(label)
        self.p = p

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        n = len(crops)
        out = np.full((n, len(self.labels)), (1 - self.p) / (len(self.labels) - 1), np.float32)
        out[:, self.index] = self.p
        return out


class ScriptedSource(FrameSource):
    """A frame source that fails to open ``fail_opens`` times, then yields ``frames`` frames and fails."""

    opens = 0

    def __init__(self, fail_opens: int = 0, frames: int = 10, size: tuple[int, int] = (64, 48),
                 fps: float = 100.0, on_open: Callable[[], None] | None = None) -> None:
        self.fail_opens = fail_opens
        self.frames = frames
        self.size = size
        self.period = 1.0 / fps
        self.on_open = on_open
        self.open_times: list[float] = []
        self._n = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        self.open_times.append(time.monotonic())
        if self.on_open:
            self.on_open()
        if len(self.open_times) <= self.fail_opens:
            raise SourceError(f"scripted open failure {len(self.open_times)}")
        self._n = 0

    def read(self) -> Frame:
        if self._n >= self.frames:
            raise SourceError("scripted read failure")
        time.sleep(self.period)
        self._n += 1
        w, h = self.size
        return Frame(np.full((h, w, 3), self._n % 256, np.uint8), time.time(), self._n)

    def close(self) -> None:
        pass


class BlinkingDetector:
    """Fixed boxes that are visible for ``on_s`` then gone for ``off_s`` (people leaving and coming back):
    with a tracker ``max_age_s`` below ``off_s`` every appearance is a new person."""

    def __init__(self, boxes: list[list[float]], on_s: float = 1.5, off_s: float = 0.8) -> None:
        from edge_agent.core.detections import Faces

        self._faces = Faces(np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32))
        self._empty = Faces.empty()
        self.on_s, self.period = on_s, on_s + off_s
        self._t0 = time.monotonic()

    def detect(self, frame_bgr: np.ndarray, score_threshold: float | None = None):  # noqa: ANN201
        return self._faces if (time.monotonic() - self._t0) % self.period < self.on_s else self._empty
