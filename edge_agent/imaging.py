"""OpenCV adapters the core receives (the core is NumPy only): the crop's resize."""

from __future__ import annotations

import cv2
import numpy as np

from edge_agent.core.crop import Image


def resize_square(image: Image, size: int) -> Image:
    """``image`` to ``size`` x ``size``: area averaging when shrinking, bilinear when enlarging."""
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    out: Image = np.asarray(cv2.resize(image, (size, size), interpolation=interp), dtype=np.uint8)
    return out
