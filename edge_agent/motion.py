"""Motion-gated detection (Frigate's design): a cheap motion check on a small grey frame decides when the
face detector runs.

``MotionDetector`` keeps a running-average background of the frame scaled to ``motion.width`` pixels wide,
blurred, in grey. A frame's difference from it is normalised by the background's own contrast (its 1st-99th
percentile range), so a dim scene is as sensitive as a bright one; pixels above ``threshold`` are motion, and
their connected regions above ``min_area`` are reported as boxes (frame pixels). When most of the frame
changes at once (lights switched, camera auto-exposure) the background restarts from the new frame and the
frame counts as motion.

``MotionGate`` runs the detector on a frame when there is motion, while the tracker has a live track (a
person standing still at the door keeps being analysed and decided), and at least every ``refresh_s``
seconds regardless (a person who walked in between frames and stopped). Otherwise the frame is not
detected: the tracker sees no faces, which is what the detector would have returned for an empty scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import MotionConfig

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Motion:
    boxes: npt.NDArray[np.float32]  # (n, 4) xyxy in frame pixels
    changed: float  # fraction of the small frame that moved
    lighting_change: bool = False

    @property
    def moving(self) -> bool:
        return self.lighting_change or len(self.boxes) > 0


class MotionDetector:
    def __init__(self, cfg: MotionConfig) -> None:
        self.cfg = cfg
        self._bg: npt.NDArray[np.float32] | None = None
        self._scale = 1.0
        self._frames = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def _small_grey(self, frame_bgr: Image) -> npt.NDArray[np.float32]:
        h, w = frame_bgr.shape[:2]
        sw = min(self.cfg.width, w)
        sh = max(1, round(h * sw / w))
        small = cv2.resize(frame_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        out: npt.NDArray[np.float32] = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        return out

    def _reset(self, grey: npt.NDArray[np.float32]) -> None:
        self._bg = grey.copy()
        self._update_scale()

    def _update_scale(self) -> None:
        assert self._bg is not None
        lo, hi = np.percentile(self._bg, (1, 99))
        self._scale = 255.0 / max(float(hi - lo), self.cfg.min_contrast)

    def detect(self, frame_bgr: Image) -> Motion:
        h, w = frame_bgr.shape[:2]
        grey = self._small_grey(frame_bgr)
        if self._bg is None or self._bg.shape != grey.shape:
            self._reset(grey)
            return Motion(np.empty((0, 4), np.float32), 1.0, lighting_change=True)  # first frame: look
        diff = cv2.absdiff(grey, self._bg) * self._scale
        mask = (diff > self.cfg.threshold).astype(np.uint8)
        changed = float(mask.mean())
        if changed > self.cfg.lighting_change:
            self._reset(grey)
            return Motion(np.empty((0, 4), np.float32), changed, lighting_change=True)
        grown = cv2.dilate(mask, self._kernel, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        min_px = self.cfg.min_area * mask.size
        keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_px]
        fx, fy = w / grey.shape[1], h / grey.shape[0]
        boxes = np.array([[stats[i, 0] * fx, stats[i, 1] * fy, (stats[i, 0] + stats[i, 2]) * fx,
                           (stats[i, 1] + stats[i, 3]) * fy] for i in keep], np.float32).reshape(-1, 4)
        # learn the background where nothing moves, so a slow walker is not absorbed into it
        still = (grown == 0).astype(np.uint8)
        cv2.accumulateWeighted(grey, self._bg, self.cfg.learning_rate, mask=still)
        self._frames += 1
        if self._frames % 25 == 0:
            self._update_scale()
        return Motion(boxes, changed)


@dataclass(slots=True)
class MotionGate:
    """Decides, frame by frame, whether the detector runs, and (``regions``) whether on the whole frame.
    Counts what it decided."""

    cfg: MotionConfig
    detector: MotionDetector = field(init=False)
    last_detect: float | None = None
    last_full: float | None = None
    detected: int = 0
    skipped: int = 0
    regional: int = 0  # of ``detected``: frames on which only regions were to be searched
    motion: Motion | None = None  # of the last frame
    full: bool = True  # the last run must search the whole frame (first frame, lighting change, refresh)

    def __post_init__(self) -> None:
        self.detector = MotionDetector(self.cfg)

    def should_detect(self, frame_bgr: Image, time: float, live_tracks: bool) -> bool:
        motion = self.motion = self.detector.detect(frame_bgr)  # always: the background must follow the scene
        due = self.last_detect is None or time - self.last_detect >= self.cfg.refresh_s
        run = motion.moving or live_tracks or due
        if run:
            self.last_detect = time
            self.detected += 1
            self.full = (motion.lighting_change or self.last_full is None
                         or time - self.last_full >= self.cfg.refresh_s)
            if self.full:
                self.last_full = time
            else:
                self.regional += 1
        else:
            self.skipped += 1
        return run
