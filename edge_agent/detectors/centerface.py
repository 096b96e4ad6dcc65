"""CenterFace (ONNX, MIT; shipped in this package, ``edge_agent/models/detectors``) run with OpenCV DNN.

The network takes an RGB image whose sides are multiples of 32 and returns four maps on a stride-4 grid:
face-centre heatmap, log box scale (h, w), centre offset (y, x) and five landmarks (eyes, nose tip, mouth
corners; (y, x) as fractions of the box from its top-left corner), which become ``Faces.landmarks``.
A frame is scaled by ``input_scale`` and rounded up to multiples of 32 in one ``blobFromImage`` call
(resize + BGR->RGB + HWC->NCHW float); boxes are mapped back to frame pixels per axis.
OpenCV 4 re-plans a network when its input size changes (tens to hundreds of ms), so there a few nets are
kept, one per recent input size. OpenCV 5 takes a new input size on the same net at no cost and with
bit-identical outputs (its buffers are sized for the largest input seen), so one net serves every size, which
lets ``detect_regions`` run the detector on crops of varying size without loading more copies (each is
~16 MB). With ``runtime: onnxruntime`` one onnxruntime session takes every size (the shipped file's sizes are symbolic); same blob, same outputs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.assets import CENTERFACE_ONNX
from edge_agent.core.detections import Faces
from edge_agent.detectors.base import DetectorError, Image, check_frame, finish
from edge_agent.detectors.configs import CenterFaceConfig

log = logging.getLogger(__name__)

_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
_MAX_NETS = 4
_ONE_NET = int(cv2.__version__.split(".")[0]) >= 5


def input_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Network input (width, height) for a frame: scaled, rounded up to multiples of 32."""
    return (max(32, math.ceil(width * scale / 32) * 32), max(32, math.ceil(height * scale / 32) * 32))


class CenterFaceDetector:
    def __init__(self, cfg: CenterFaceConfig) -> None:
        self.cfg = cfg
        self.model_path = cfg.model or CENTERFACE_ONNX
        if not self.model_path.is_file():
            raise DetectorError(f"detector.model: {self.model_path} does not exist")
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}
        self._session: Any = None
        self._spare: cv2.dnn.Net | None = None
        if cfg.runtime == "onnxruntime":
            self._session = _onnxruntime_session(self.model_path)
        else:
            self._spare = self._load()  # fail at start; adopted by the first input size

    def _net_for(self, size: tuple[int, int]) -> cv2.dnn.Net:
        """A net used only at this input size (LRU). When the cache is full the least recently used net
        is re-planned for the new size, which is cheaper than loading another one."""
        if _ONE_NET:
            size = (0, 0)
        net = self._nets.pop(size, None)
        if net is None and self._spare is not None:  # the net loaded at start: no second copy in memory
            net, self._spare = self._spare, None
        if net is None and len(self._nets) >= _MAX_NETS:
            net = self._nets.pop(next(iter(self._nets)))
        if net is None:
            net = self._load()
        self._nets[size] = net  # most recently used last
        return net

    def _load(self) -> cv2.dnn.Net:
        try:
            return cv2.dnn.readNetFromONNX(str(self.model_path))
        except cv2.error as err:
            raise DetectorError(f"cannot load CenterFace model {self.model_path}: {err}") from None

    def detect(self, frame_bgr: Image, score_threshold: float | None = None) -> Faces:
        check_frame(frame_bgr)
        h, w = frame_bgr.shape[:2]
        iw, ih = input_size(w, h, self.cfg.input_scale)
        boxes, scores, points = self._raw(frame_bgr, iw, ih, score_threshold)
        boxes[:, 0::2] *= w / iw
        boxes[:, 1::2] *= h / ih
        points *= np.array([w / iw, h / ih], np.float32)
        boxes = adjust_boxes(boxes, self.cfg.box_adjust, self.cfg.box_adjust_px)
        return finish(boxes, scores, w, h, self.cfg.min_face_px, self.cfg.nms_iou, points)

    def detect_regions(self, frame_bgr: Image, regions: Sequence[tuple[int, int, int, int]],
                       score_threshold: float | None = None) -> Faces:
        """Faces found in the given regions (x0, y0, x1, y1 frame pixels) only, boxes in frame pixels.

        Each region is widened to a crop that the network sees at the scale and on the pixel grid it sees
        the whole frame at (``_crop_axis``), so a face inside a region gives the detection the whole frame
        gives it; faces found in two overlapping crops are merged by the usual non-maximum suppression.
        """
        check_frame(frame_bgr)
        h, w = frame_bgr.shape[:2]
        iw, ih = input_size(w, h, self.cfg.input_scale)
        sx, sy = iw / w, ih / h
        all_boxes, all_scores, all_points = [], [], []
        for region in regions:
            x0, x1, cw, ciw = _crop_axis(region[0], region[2], w, iw, sx)
            y0, y1, ch, cih = _crop_axis(region[1], region[3], h, ih, sy)
            boxes, scores, points = self._raw(frame_bgr[y0:y1, x0:x1], ciw, cih, score_threshold)
            boxes[:, 0::2] = boxes[:, 0::2] * (cw / ciw) + x0
            boxes[:, 1::2] = boxes[:, 1::2] * (ch / cih) + y0
            points = points * np.array([cw / ciw, ch / cih], np.float32) + np.array([x0, y0], np.float32)
            all_boxes.append(boxes)
            all_scores.append(scores)
            all_points.append(points.astype(np.float32))
        if not all_boxes:
            return Faces.empty()
        boxes = adjust_boxes(np.concatenate(all_boxes), self.cfg.box_adjust, self.cfg.box_adjust_px)
        return finish(boxes, np.concatenate(all_scores), w, h, self.cfg.min_face_px, self.cfg.nms_iou,
                      np.concatenate(all_points))

    def _raw(self, image: Image, iw: int, ih: int, score_threshold: float | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, scores and landmarks (network-input pixels) of one image resized to iw x ih."""
        blob = cv2.dnn.blobFromImage(image, 1.0, (iw, ih), (0, 0, 0), swapRB=True, crop=False)
        if self._session is not None:
            heat, scale, offset, lms = self._session.run(_OUTPUTS, {_INPUT: blob})
        else:
            net = self._net_for((iw, ih))
            net.setInput(blob)
            heat, scale, offset, lms = net.forward(_OUTPUTS)
        thr = self.cfg.score_threshold if score_threshold is None else score_threshold
        return decode_landmarks(heat[0, 0], scale[0], offset[0], lms[0], thr)


def _crop_axis(lo: int, hi: int, size: int, full_input: int, scale: float) -> tuple[int, int, int, int]:
    """One axis of a region's crop: (start, end, crop length, network input length).

    The crop's edges are put on the full frame's input grid at multiples of 32 network pixels (the net's
    largest stride), so the crop is resampled exactly as the whole frame is there and its feature maps are
    those of the whole frame, shifted by whole cells."""
    in_lo = max(0, math.floor(lo * scale / 32) * 32)
    in_hi = min(full_input, max(in_lo + 32, math.ceil(hi * scale / 32) * 32))
    start = min(round(in_lo / scale), size - 1)
    end = size if in_hi >= full_input else max(min(round(in_hi / scale), size), start + 1)
    return start, end, end - start, in_hi - in_lo


def _onnxruntime_session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise DetectorError("detector.runtime: onnxruntime is not installed "
                            "(pip install 'maskwatch[onnxruntime]', or use runtime: opencv)") from None
    ort.set_default_logger_severity(3)
    try:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for a bad file
        raise DetectorError(f"detector.model: onnxruntime cannot load {path}: {err}") from None


def decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap peaks -> boxes (n, 4) in network-input pixels and scores (n,). Vectorised."""
    ys, xs = np.nonzero(heat > threshold)
    scores = heat[ys, xs].astype(np.float32)
    bh = np.exp(scale[0, ys, xs]) * 4.0
    bw = np.exp(scale[1, ys, xs]) * 4.0
    cx = (xs + offset[1, ys, xs] + 0.5) * 4.0
    cy = (ys + offset[0, ys, xs] + 0.5) * 4.0
    boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]).astype(np.float32)
    return boxes.reshape(-1, 4), scores


def decode_landmarks(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, landmarks: np.ndarray,
                     threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``decode`` plus each face's five landmarks (n, 5, 2) as (x, y) network-input pixels: the map holds
    (y, x) pairs as fractions of the box's height and width from its top-left corner (CenterFace's decoder)."""
    boxes, scores = decode(heat, scale, offset, threshold)
    ys, xs = np.nonzero(heat > threshold)
    frac = landmarks[:, ys, xs].T.reshape(-1, 5, 2)[:, :, ::-1]  # (n, 5, (x, y))
    size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)[:, None, :]
    points = (boxes[:, None, :2] + frac * size).astype(np.float32)
    return boxes, scores, points.reshape(-1, 5, 2)


def adjust_boxes(boxes: np.ndarray, adjust: tuple[float, float, float, float],
                 pixels: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    """Calibrate boxes (n, 4): centre moved by (dx*w, dy*h), width scaled by sw, height by sh; then
    ``pixels`` = (ox, oy, ow, oh) adds ox, oy to the centre and ow, oh to the width and height, in frame pixels."""
    dx, dy, sw, sh = adjust
    ox, oy, ow, oh = pixels
    if ((dx, dy, sw, sh) == (0.0, 0.0, 1.0, 1.0) and not any(pixels)) or not len(boxes):
        return boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 + dx * w + ox, (boxes[:, 1] + boxes[:, 3]) / 2 + dy * h + oy
    w, h = w * sw + ow, h * sh + oh
    return np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]).astype(np.float32)
