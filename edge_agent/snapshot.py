"""JPEG images the agent publishes: the violation snapshot and the low-rate live preview.

Snapshot: the violator's face plus context (a region about five face-widths around it, or the whole
frame when that is smaller), the face outlined, every other face blurred (the violator's too in the
``blur_all`` privacy mode), scaled down to ``max_width``. Preview: the whole frame scaled to ``width`` with
the faces it is given blurred and every face box drawn in its verdict's colour. Blurring happens on the
raw frame, before anything is encoded (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import PreviewConfig, SnapshotConfig
from edge_agent.core.evidence import context_region
from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int] | Sequence[float]

#: BGR colours per verdict; unclassified faces are grey.
COLOURS: dict[str, tuple[int, int, int]] = {
    WITH_MASK: (60, 180, 60),
    WITHOUT_MASK: (40, 40, 220),
    MASK_INCORRECT: (0, 160, 240),
}
UNKNOWN = (160, 160, 160)
BLUR_GROW = 1 / 6  # each side of a blurred box grows by this fraction of the face size (boxes are tight)
BLUR_CELLS = 8  # a blurred face is at most this many cells across before smoothing: no identity survives


class EncodeError(Exception):
    """The image could not be encoded (the runtime logs it and publishes the event without a snapshot)."""


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise EncodeError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()


def _clip(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(round(float(v))) for v in list(box)[:4])
    return max(0, min(x1, w)), max(0, min(y1, h)), max(0, min(x2, w)), max(0, min(y2, h))


def blur_region(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    """The area :func:`blur_boxes` covers for ``box``: the box grown by ``BLUR_GROW`` on each side, clipped."""
    x1, y1, x2, y2 = _clip(box, w, h)
    gx, gy = int(round((x2 - x1) * BLUR_GROW)), int(round((y2 - y1) * BLUR_GROW))
    return max(0, x1 - gx), max(0, y1 - gy), min(w, x2 + gx), min(h, y2 + gy)


def blur_boxes(image: Image, boxes: Sequence[Box]) -> Image:
    """Pixelate and smooth each box (grown a little) so that a face cannot be recognised: the region is
    reduced to at most ``BLUR_CELLS`` cells across, whatever the face size, and enlarged again bilinearly."""
    out = image.copy()
    h, w = out.shape[:2]
    for box in boxes:
        x1, y1, x2, y2 = blur_region(box, w, h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        bw, bh = x2 - x1, y2 - y1
        cells_x = max(1, min(BLUR_CELLS, bw // 4))
        cells_y = max(1, min(BLUR_CELLS, int(round(cells_x * bh / bw)) or 1))
        small = cv2.resize(out[y1:y2, x1:x2], (cells_x, cells_y), interpolation=cv2.INTER_AREA)
        # bilinear enlargement smooths the cells; ~40x cheaper than a Gaussian of that width on the Pi
        out[y1:y2, x1:x2] = cv2.resize(small, (bw, bh), interpolation=cv2.INTER_LINEAR)
    return out


def violation_snapshot(frame: Image, box: Box, other_boxes: Sequence[Box], cfg: SnapshotConfig,
                       label: str = WITHOUT_MASK, blur_violator: bool = False) -> bytes:
    """JPEG of the violator (``box``) with context; ``other_boxes`` are always blurred, ``box`` too with
    ``blur_violator`` (privacy mode ``blur_all``)."""
    h, w = frame.shape[:2]
    image = blur_boxes(frame, [*other_boxes, box] if blur_violator else other_boxes)
    fx1, fy1, fx2, fy2 = _clip(box, w, h)
    cv2.rectangle(image, (fx1, fy1), (fx2, fy2), COLOURS.get(label, UNKNOWN), max(2, w // 400))
    cx1, cy1, cx2, cy2 = context_region(box, w, h)
    crop = image[cy1:cy2, cx1:cx2]
    if crop.size == 0:
        crop = image
    if crop.shape[1] > cfg.max_width:
        scale = cfg.max_width / crop.shape[1]
        crop = cv2.resize(crop, (cfg.max_width, max(1, int(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return encode_jpeg(np.ascontiguousarray(crop), cfg.jpeg_quality)


def preview_jpeg(frame: Image, boxes: Sequence[Box], labels: Sequence[str | None], cfg: PreviewConfig,
                 blur: Sequence[bool] | None = None, also_blur: Sequence[Box] = ()) -> bytes:
    """The frame scaled to ``cfg.width`` with each face box drawn in its verdict's colour; the faces whose
    ``blur`` flag is set (all of them when ``blur`` is None) and the ``also_blur`` boxes (faces that are not
    analysed, not drawn) are blurred first, at full resolution."""
    h, w = frame.shape[:2]
    flags = [True] * len(boxes) if blur is None else list(blur)
    if len(flags) != len(boxes):
        raise ValueError(f"blur has {len(flags)} flags for {len(boxes)} boxes")
    frame = blur_boxes(frame, [*(b for b, f in zip(boxes, flags, strict=True) if f), *also_blur])
    scale = min(1.0, cfg.width / w)
    image = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA) \
        if scale < 1.0 else frame  # blur_boxes returned a copy
    for box, label in zip(boxes, labels, strict=True):
        x1, y1, x2, y2 = (int(round(float(v) * scale)) for v in list(box)[:4])
        cv2.rectangle(image, (x1, y1), (x2, y2), COLOURS.get(label or "", UNKNOWN), 2)
    return encode_jpeg(image, cfg.jpeg_quality)
