"""The one crop: frame + face box -> classifier input. Used by the agent, the trainer and evaluation.

NumPy only: the resize is passed in (``Resize``; the adapter is ``edge_agent.imaging.resize_square``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.core.frames import Image


@dataclass(frozen=True, slots=True)
class CropSpec:
    """How a face box becomes classifier input.

    The box is grown by ``margin`` (a fraction of its longer side, on each side), made square around its
    centre, cut from the frame (parts outside the frame are filled by replicating the edge) and resized to
    ``size`` x ``size``. Output is RGB uint8.
    """

    size: int = 64
    margin: float = 0.15

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 512:
            raise ValueError(f"crop size must be in 16..512, got {self.size}")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"crop margin must be in 0.0..1.0, got {self.margin}")

    def square_box(self, box: npt.ArrayLike) -> tuple[int, int, int, int]:
        """The square region (x1, y1, x2, y2), integer pixels, that ``crop_face`` cuts for ``box``."""
        x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64)[:4])
        side = max(x2 - x1, y2 - y1, 1.0) * (1.0 + 2.0 * self.margin)
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        sx1 = int(round(cx - side / 2.0))
        sy1 = int(round(cy - side / 2.0))
        s = max(int(round(side)), 1)
        return sx1, sy1, sx1 + s, sy1 + s


class Resize(Protocol):
    """Resizes a square uint8 image to ``size`` x ``size`` (channels untouched). The core holds no image
    library: the agent, trainer and evaluation pass ``edge_agent.imaging.resize_square`` (OpenCV)."""

    def __call__(self, image: Image, size: int) -> Image: ...


def crop_face(frame_bgr: Image, box: npt.ArrayLike, spec: CropSpec, resize: Resize) -> Image:
    """Cut one face from an OpenCV BGR frame; returns an RGB ``(size, size, 3)`` uint8 array."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"frame must be HxWx3, got shape {frame_bgr.shape}")
    h, w = frame_bgr.shape[:2]
    sx1, sy1, sx2, sy2 = spec.square_box(box)
    cx1, cy1, cx2, cy2 = max(sx1, 0), max(sy1, 0), min(sx2, w), min(sy2, h)
    if cx2 <= cx1 or cy2 <= cy1:
        raise ValueError(f"box {list(np.asarray(box)[:4])} lies outside the {w}x{h} frame")
    region: Image = frame_bgr[cy1:cy2, cx1:cx2]
    pad = ((cy1 - sy1, sy2 - cy2), (cx1 - sx1, sx2 - cx2), (0, 0))
    if any(v for side in pad for v in side):
        region = np.pad(region, pad, mode="edge")  # = OpenCV's BORDER_REPLICATE
    resized = resize(region, spec.size)
    out: Image = np.ascontiguousarray(resized[..., ::-1], dtype=np.uint8)  # BGR -> RGB
    return out


def crop_faces(frame_bgr: Image, boxes: npt.ArrayLike, spec: CropSpec, resize: Resize) -> Image:
    """All faces of a frame as one ``(n, size, size, 3)`` RGB batch."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.empty((len(arr), spec.size, spec.size, 3), dtype=np.uint8)
    for i, box in enumerate(arr):
        out[i] = crop_face(frame_bgr, box, spec, resize)
    return out
