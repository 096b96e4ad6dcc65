"""Evidence a person can trust: which faces may vote, which face is a track's best shot, where a snapshot is.

- **Well seen.** A face whose box touches the frame border (within ``border_px``), that is not wholly
  inside the region of interest, or whose larger side is under ``min_face_px`` is still tracked, but does
  not vote and cannot be the best shot: half a face at the edge of the frame is how a person enters, and a
  verdict from it is a guess.
- **Best shot.** Over a track's life the face kept for its snapshot is replaced only by a clearly better
  one. The rule follows Frigate's best-thumbnail logic (an edge-clipped face never replaces an unclipped
  one; a class probability higher by more than 0.05 or an area larger by more than 10% wins) and adds
  MaskWatch's own terms: sharpness (variance of the Laplacian of the face's grey values) and, where the
  detector gives landmarks, frontality (``frontal_score``: where the nose tip lies between the eyes; a face
  turned to the side has its nose near one eye or beyond it).
- **Snapshot region.** The part of the frame a snapshot shows: the face grown by ``context`` face sizes on
  each side, clipped to the frame. The dashboard places the face box over the snapshot with it.

Pure NumPy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import Faces
from edge_agent.core.roi import Roi

Box = tuple[int, int, int, int]
CONTEXT = 2.0  # face sizes of context on each side of the face in a snapshot


@dataclass(frozen=True, slots=True)
class SeenParams:
    """When a face is well seen enough to vote (``TrackerConfig``'s vote filter)."""

    border_px: int = 2
    min_face_px: int = 24
    whole_in_roi: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.border_px <= 100:
            raise ValueError(f"border_px must be in 0..100, got {self.border_px}")
        if not 0 <= self.min_face_px <= 2000:
            raise ValueError(f"min_face_px must be in 0..2000, got {self.min_face_px}")


def clipped(xyxy: npt.ArrayLike, width: int, height: int, border_px: int) -> npt.NDArray[np.bool_]:
    """Which boxes (n, 4, frame pixels) reach within ``border_px`` of the frame's edge (or beyond it)."""
    b = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    m = float(border_px)
    out: npt.NDArray[np.bool_] = ((b[:, 0] <= m) | (b[:, 1] <= m) | (b[:, 2] >= width - m) | (b[:, 3] >= height - m))
    return out


def inside_roi(xyxy: npt.ArrayLike, width: int, height: int, roi: Roi) -> npt.NDArray[np.bool_]:
    """Which boxes have all four corners inside the region of interest."""
    b = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    ok = np.ones(len(b), dtype=np.bool_)
    for xi, yi in ((0, 1), (2, 1), (2, 3), (0, 3)):
        corner = np.stack([b[:, xi], b[:, yi], b[:, xi], b[:, yi]], axis=1)
        ok &= roi.contains(corner, width, height)
    return ok


def well_seen(faces: Faces, width: int, height: int, params: SeenParams, roi: Roi | None = None
              ) -> npt.NDArray[np.bool_]:
    """Which faces may vote: not clipped by the frame border or the roi edge, and large enough."""
    if not len(faces):
        return np.zeros(0, dtype=np.bool_)
    ok = ~clipped(faces.xyxy, width, height, params.border_px)
    ok &= np.maximum(faces.width, faces.height) >= params.min_face_px
    if roi is not None and params.whole_in_roi:
        ok &= inside_roi(faces.xyxy, width, height, roi)
    return ok


def sharpness(grey: npt.NDArray[np.uint8] | npt.NDArray[np.float32]) -> float:
    """Variance of the 4-neighbour Laplacian: blur (motion, focus) lowers it."""
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim != 2 or min(g.shape) < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def face_sharpness(frame_bgr: npt.NDArray[np.uint8], xyxy: npt.ArrayLike, size: int = 64) -> npt.NDArray[np.float32]:
    """Sharpness of each face, measured on its grey values resampled to ``size`` px (so big and small
    faces compare fairly): nearest-neighbour sampling, no OpenCV."""
    b = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    h, w = frame_bgr.shape[:2]
    out = np.zeros(len(b), dtype=np.float32)
    for i, (x1, y1, x2, y2) in enumerate(b):
        if x2 - x1 < 3 or y2 - y1 < 3:
            continue
        xs = np.clip(np.linspace(x1, x2 - 1, size).astype(np.int64), 0, w - 1)
        ys = np.clip(np.linspace(y1, y2 - 1, size).astype(np.int64), 0, h - 1)
        patch = frame_bgr[ys[:, None], xs[None, :]]
        grey = patch.astype(np.float32).mean(axis=2) if patch.ndim == 3 else patch.astype(np.float32)
        out[i] = sharpness(grey)
    return out


def frontal_score(landmarks: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """How squarely each face (landmarks ``(n, 5, 2)``: eyes, nose tip, mouth corners) looks at the camera,
    0..1. The nose tip is projected onto the line through the eyes: 1 when it falls midway, falling linearly
    to 0 when it is level with either eye or beyond (a profile). Eyes closer than 1 px give 0. A face without
    landmarks (NaN: the detector gives none) scores 1, so it is judged by the other terms alone."""
    lm = np.asarray(landmarks, dtype=np.float32).reshape(-1, 5, 2)
    unknown = np.isnan(lm[:, :3]).any(axis=(1, 2))
    lm = np.where(np.isnan(lm), 0.0, lm)
    e1, e2, nose = lm[:, 0], lm[:, 1], lm[:, 2]
    eyes = e2 - e1
    length2 = (eyes**2).sum(axis=1)
    t = ((nose - e1) * eyes).sum(axis=1) / np.maximum(length2, 1e-6)
    out: npt.NDArray[np.float32] = np.where(unknown, 1.0, np.where(
        length2 >= 1.0, np.clip(1.0 - np.abs(2.0 * t - 1.0), 0.0, 1.0), 0.0)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Shot:
    """One sighting of a track's face, as a candidate for its snapshot."""

    box: Box
    time: float
    prob: float  # class probability of the track's verdict in this frame
    area: float
    sharp: float
    clipped: bool
    frontal: float = 1.0  # 1 = facing the camera (from landmarks when the detector gives them)


def is_better(current: Shot | None, new: Shot) -> bool:
    """Should ``new`` replace ``current`` as the best shot? Hysteresis so that near-equal frames do not
    churn snapshots."""
    if current is None:
        return True
    if new.clipped != current.clipped:
        return current.clipped
    if new.area < 0.8 * current.area or new.frontal < current.frontal - 0.2:
        return False  # a higher score does not buy a much smaller or turned-away face
    if new.prob > current.prob + 0.05:
        return True
    if new.area > 1.1 * current.area and new.sharp >= 0.7 * current.sharp:
        return True
    if new.sharp > 1.5 * current.sharp and new.area >= 0.9 * current.area:
        return True
    return new.frontal > current.frontal + 0.2


def context_region(box: Box | tuple[float, ...], w: int, h: int, context: float = CONTEXT) -> Box:
    """The face box grown by ``context`` face sizes on each side, clipped to the frame (snapshot region)."""
    x1, y1, x2, y2 = (max(0, min(int(round(float(v))), lim)) for v, lim in zip(box[:4], (w, h, w, h), strict=True))
    side = max(x2 - x1, y2 - y1, 1)
    return (max(0, int(x1 - context * side)), max(0, int(y1 - context * side)),
            min(w, int(x2 + context * side)), min(h, int(y2 + context * side)))
