"""The detector plugin interface and helpers shared by the real detectors."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import Faces
from edge_agent.core.frames import Image


class DetectorError(Exception):
    """A detector's model is missing or cannot be loaded. Fatal at start."""


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one OpenCV BGR frame; boxes are pixels of that frame, clipped to it."""

    def detect(self, frame_bgr: Image, score_threshold: float | None = None) -> Faces:
        """``score_threshold`` overrides the configured one for this frame (low light lowers it)."""
        ...


def check_frame(frame_bgr: Image) -> None:
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f"frame must be an HxWx3 uint8 BGR image, got {frame_bgr.shape} {frame_bgr.dtype}")


def finish(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], width: int, height: int,
           min_face_px: int, nms_iou: float, landmarks: npt.NDArray[np.float32] | None = None) -> Faces:
    """Clip boxes to the frame, drop tiny ones, non-maximum suppression, highest score first.
    ``landmarks (n, 5, 2)`` follow their boxes (not clipped: a landmark may lie outside a clipped box);
    without them the faces' landmarks are NaN."""
    if len(boxes) == 0:
        return Faces.empty()
    boxes = boxes.astype(np.float32, copy=True)
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = np.minimum(w, h) >= min_face_px
    boxes, scores = boxes[keep], scores[keep]
    lm = np.full((len(keep), 5, 2), np.nan, np.float32) if landmarks is None else \
        np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    lm = lm[keep]
    if len(boxes) == 0:
        return Faces.empty()
    import cv2  # here, not at import: the config schema imports the detector registry (no OpenCV there)

    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, nms_iou), dtype=np.intp).reshape(-1)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return Faces(boxes[idx], scores[idx], landmarks=lm[idx])
