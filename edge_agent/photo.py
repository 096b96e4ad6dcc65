"""The largest face in a photo: used by the trainer's class-folder importer and by evaluation.

Tight face crops defeat scene detectors (no context around the face, face larger than the anchors), so
when nothing is found in the photo as it is, it is tried again with a grey border around it and rescaled
to a size the detector handles well, before giving up.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_agent.detectors.base import Detector, Image

Box = tuple[float, float, float, float]

#: (border as a fraction of the longer side on each side, longer side of the image given to the detector;
#: 0 = unchanged). The first attempt is the photo as it is.
ATTEMPTS: tuple[tuple[float, int], ...] = ((0.0, 0), (0.5, 640), (0.25, 320), (0.0, 640))


def _prepare(image: Image, border: float, side: int) -> tuple[Image, float, int]:
    """Image with a border and rescaled; returns it, the scale and the border in original pixels."""
    h, w = image.shape[:2]
    pad = int(round(border * max(h, w)))
    out: Image = image
    if pad:
        out = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    k = 1.0
    if side:
        k = side / max(out.shape[:2])
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
        out = cv2.resize(out, (max(1, round(out.shape[1] * k)), max(1, round(out.shape[0] * k))),
                         interpolation=interp)
    return out, k, pad


def find_face_in_photo(image_bgr: Image, detector: Detector) -> Box | None:
    """Box (x1, y1, x2, y2) of the largest face in original pixels (clipped), or None when none is found."""
    h, w = image_bgr.shape[:2]
    for border, side in ATTEMPTS:
        img, k, pad = _prepare(image_bgr, border, side)
        faces = detector.detect(img)
        if not len(faces):
            continue
        boxes = faces.xyxy / k - pad
        np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        best = int(np.argmax(area))
        if area[best] <= 0:
            continue
        x1, y1, x2, y2 = (float(v) for v in boxes[best])
        return x1, y1, x2, y2
    return None
