"""Low-light normalisation of the detector's input.

Face recall falls in the dark because the detector's input is dark and noisy, while the classifier on the
same faces holds up (docs/evaluation.md). So only the detector's copy of a frame is changed, and only when
its mean grey level is under ``dark_below``: an edge-preserving denoise (``cv2.bilateralFilter``, 5 px,
colour sigma 20) so that the gain does not amplify sensor noise, then a linear gain that brings the mean to
``target``; and the detector's score threshold for that frame is multiplied by ``score_factor`` (dark faces
score lower). With ``raw_pass`` the detector also looks at the dark frame as it is (same lowered threshold)
and the two passes are merged by non-maximum suppression (``merge``): the denoise that helps faded faces
blurs the few that were already clear, and the union gained on each of three darkening recipes, where every
single tone curve or denoise strength tried won on one recipe and lost on another (docs/evaluation.md).
Bright frames pass untouched, so daylight results cannot change. The mean is measured on every 4th pixel of
every 4th row.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import LowLightConfig
from edge_agent.core.detections import Faces
from edge_agent.detectors.base import finish

Image = npt.NDArray[np.uint8]
MAX_GAIN = 8.0  # a nearly black frame is noise, not faces


def mean_grey(bgr: Image) -> float:
    sample = bgr[::4, ::4]
    if sample.ndim == 3:  # ITU-R BT.601 weights, B G R order
        return float((sample[..., 0] * 0.114 + sample[..., 1] * 0.587 + sample[..., 2] * 0.299).mean())
    return float(sample.mean())


def gain_for(mean: float, target: float) -> float:
    """The gain that brings a frame of this mean grey to ``target`` (1 = unchanged, at most ``MAX_GAIN``)."""
    if mean >= target:
        return 1.0
    return min(MAX_GAIN, target / max(mean, 1e-3))


class LowLight:
    def __init__(self, cfg: LowLightConfig) -> None:
        self.cfg = cfg
        self.applied = 0  # frames normalised (for tests and benchmarks)

    def gain(self, bgr: Image) -> float | None:
        """The gain for this frame, or None when it is not dark (or normalisation is off)."""
        if not self.cfg.enabled:
            return None
        mean = mean_grey(bgr)
        return None if mean >= self.cfg.dark_below else gain_for(mean, self.cfg.target)

    @staticmethod
    def apply(img: Image, gain: float) -> Image:
        lut = np.clip(np.rint(np.arange(256) * gain), 0, 255).astype(np.uint8)
        out: Image = cv2.LUT(cv2.bilateralFilter(img, 5, 20, 3), lut)
        return out

    def crops(self, crops: Image, gain: float) -> Image:
        """The classifier's crops (n, s, s, 3) normalised like the frame's detector input."""
        return np.stack([self.apply(np.ascontiguousarray(c), gain) for c in crops]) if len(crops) else crops

    def __call__(self, bgr: Image) -> tuple[Image, bool]:
        """The detector's input and whether the frame was dark."""
        g = self.gain(bgr)
        if g is None:
            return bgr, False
        self.applied += 1
        return self.apply(bgr, g), True


def merge(a: Faces, b: Faces, width: int, height: int, nms_iou: float) -> Faces:
    """The faces of two detector passes over one frame as one set: where boxes of the two overlap by more
    than ``nms_iou`` the higher score is kept (landmarks follow their box)."""
    if not len(b):
        return a
    if not len(a):
        return b
    lm = np.concatenate([a.landmarks, b.landmarks])
    return finish(np.concatenate([a.xyxy, b.xyxy]), np.concatenate([a.score, b.score]), width, height, 0, nms_iou, lm)
