"""Per-camera frame pipeline: frame -> faces -> verdicts.

optional resize (camera ``width``/``height``) -> detect -> region-of-interest filter -> crop every face
(the one crop, with the classifier's CropSpec) -> classify all faces in one batch -> track -> decisions.
Boxes in every result are pixels of the frame passed in (before the optional resize). The detector applies
its own ``min_face_px`` in the frame it sees (after the resize).
No I/O and no MQTT: the runtime calls ``process`` and publishes what it returns.
"""

from __future__ import annotations

import time as _time

import cv2
import numpy as np

from edge_agent.classifier import Classifier
from edge_agent.config import CameraConfig, Config
from edge_agent.core.crop import crop_faces
from edge_agent.core.detections import Faces
from edge_agent.core.evidence import SeenParams, face_sharpness, well_seen
from edge_agent.core.frames import Frame, FrameResult, Image
from edge_agent.core.labels import Verdict
from edge_agent.core.roi import Roi
from edge_agent.core.tracking import PeopleCounter, Tracker, TrackerParams
from edge_agent.detectors import Detector, create_detector
from edge_agent.imaging import resize_square
from edge_agent.lowlight import LowLight, merge
from edge_agent.motion import MotionGate
from edge_agent.regions import Box, plan_regions


def analysis_size(width: int, height: int, camera: CameraConfig | None) -> tuple[int, int]:
    """Frame size the detector sees: camera width/height (one of them keeps the aspect ratio)."""
    if camera is None or (camera.width is None and camera.height is None):
        return width, height
    if camera.width is not None and camera.height is not None:
        return camera.width, camera.height
    if camera.width is not None:
        return camera.width, max(1, round(height * camera.width / width))
    assert camera.height is not None
    return max(1, round(width * camera.height / height)), camera.height


class FaceAnalyzer:
    """Detect + ROI filter + classify, no tracking. Shared by the pipeline, ``detect`` and ``eval``."""

    def __init__(self, config: Config, camera: CameraConfig | None = None, *,
                 detector: Detector | None = None, classifier: Classifier | None = None) -> None:
        self.camera = camera
        self.detector = detector if detector is not None else create_detector(config.detector)
        self.classifier = classifier if classifier is not None else Classifier(
            config.classifier.model_card, config.classifier.threads)
        self.labels = self.classifier.labels
        self.roi = Roi.from_points(camera.roi) if camera is not None and camera.roi else None
        self.low_light = LowLight(config.low_light)
        threshold = getattr(config.detector, "score_threshold", None)
        self.dark_threshold = None if threshold is None else threshold * config.low_light.score_factor
        self.nms_iou: float = getattr(config.detector, "nms_iou", 0.3)  # merging the two passes of a dark frame
        self.detect_ms = 0.0
        self.classify_ms = 0.0
        self.outside_roi: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def supports_regions(self) -> bool:
        return bool(getattr(self.detector, "supports_regions", hasattr(self.detector, "detect_regions")))

    def detect(self, frame_bgr: Image, regions: list[Box] | None = None) -> Faces:
        """Faces in the frame; with ``regions`` (frame pixels, see edge_agent/regions.py) only in those."""
        t0 = _time.perf_counter()
        h, w = frame_bgr.shape[:2]
        aw, ah = analysis_size(w, h, self.camera)
        small = frame_bgr if (aw, ah) == (w, h) else cv2.resize(frame_bgr, (aw, ah), interpolation=cv2.INTER_AREA)
        det_input, dark = self.low_light(small)
        threshold = self.dark_threshold if dark else None
        if regions is not None and self.supports_regions:
            fx, fy = aw / w, ah / h
            scaled = [(int(x0 * fx), int(y0 * fy), int(np.ceil(x1 * fx)), int(np.ceil(y1 * fy)))
                      for x0, y0, x1, y1 in regions]
            faces = self.detector.detect_regions(det_input, scaled, score_threshold=threshold)  # type: ignore[attr-defined]
        elif threshold is not None:
            faces = self.detector.detect(det_input, score_threshold=threshold)
        else:
            faces = self.detector.detect(det_input)
        if dark and self.low_light.cfg.raw_pass:  # the dark frame as it is too (lowlight.py)
            faces = merge(faces, self.detector.detect(small, score_threshold=self.dark_threshold), aw, ah, self.nms_iou)
        if (aw, ah) != (w, h) and len(faces):
            faces = faces.scaled(w / aw, h / ah)
        self.outside_roi = ()
        if self.roi is not None and len(faces):
            inside = self.roi.contains(faces.xyxy, w, h)
            self.outside_roi = tuple(tuple(b) for b in faces.xyxy[~inside].tolist())  # still blurred in images
            faces = faces[inside]
        self.detect_ms = (_time.perf_counter() - t0) * 1000.0
        return faces

    def classify(self, frame_bgr: Image, faces: Faces) -> tuple[Faces, np.ndarray]:
        """Faces with class ids/scores filled in, and the full probabilities (n, len(labels))."""
        t0 = _time.perf_counter()
        crops = crop_faces(frame_bgr, faces.xyxy, self.classifier.crop, resize_square)
        gain = self.low_light.gain(frame_bgr) if self.low_light.cfg.classifier and len(crops) else None
        if gain is not None:
            crops = self.low_light.crops(crops, gain)
        probs = self.classifier.predict_proba(crops)
        ids = probs.argmax(axis=1).astype(np.int32) if len(probs) else np.empty(0, np.int32)
        out = faces.with_classes(ids, probs[np.arange(len(probs)), ids])
        self.classify_ms = (_time.perf_counter() - t0) * 1000.0
        return out, probs

    def analyse(self, frame_bgr: Image, regions: list[Box] | None = None) -> Faces:
        return self.classify(frame_bgr, self.detect(frame_bgr, regions))[0]


class FramePipeline:
    """One camera's analysis. ``process`` is called by the runtime for every analysed frame."""

    def __init__(self, config: Config, camera_config: CameraConfig | None = None, *,
                 detector: Detector | None = None, classifier: Classifier | None = None) -> None:
        self.analyzer = FaceAnalyzer(config, camera_config, detector=detector, classifier=classifier)
        t = config.tracker
        self.tracker = Tracker(TrackerParams(t.iou_threshold, t.max_age_s, t.votes, t.window, t.min_confidence,
                                                   t.max_distance, t.unseen_max_age_s),
                               self.analyzer.labels,
                               reference_fps=camera_config.detect_fps if camera_config is not None else None)
        self.seen = SeenParams(t.vote_border_px, t.vote_min_face_px, t.vote_whole_in_roi)
        self.people = PeopleCounter()
        self.labels: tuple[Verdict, ...] = self.analyzer.labels
        motion = camera_config.motion if camera_config is not None else None
        self.gate = MotionGate(motion) if motion is not None and motion.enabled else None
        self.last_regions: list[Box] | None = None  # where the detector ran on the last frame (None: everywhere)
        self.search_all_next = False  # set by the runtime when it will publish the next frame (a preview)

    def _live_tracks(self, time: float) -> bool:
        p = self.tracker.effective or self.tracker.params
        return any(time - t.last_seen <= p.max_age_s for t in self.tracker.tracks.values())

    def process(self, frame: Frame) -> FrameResult:
        frame_bgr, capture_time = frame.image, frame.time
        t0 = _time.perf_counter()
        if self.gate is not None and not self.gate.should_detect(frame_bgr, capture_time,
                                                                 self._live_tracks(capture_time)):
            faces, detect_ms, classify_ms = Faces.empty(), 0.0, 0.0  # no motion, nobody tracked: nothing to find
            detected = False
        else:
            detected = True
            self.last_regions = self._regions(frame_bgr, capture_time)
            faces = self.analyzer.analyse(frame_bgr, self.last_regions)
            detect_ms, classify_ms = self.analyzer.detect_ms, self.analyzer.classify_ms
        motion_ms = (_time.perf_counter() - t0) * 1000.0 - detect_ms - classify_ms
        h, w = frame_bgr.shape[:2]
        seen = well_seen(faces, w, h, self.seen, self.analyzer.roi)
        update = self.tracker.update(faces, capture_time, seen, face_sharpness(frame_bgr, faces.xyxy), (w, h))
        self.people.add(update.decisions)
        return FrameResult(frame, update.faces, update.decisions, detect_ms + max(motion_ms, 0.0), classify_ms,
                           improved=update.improved, ended=update.ended,
                           outside_roi=self.analyzer.outside_roi if detected else (), detected=detected,
                           searched_all=not detected or self.last_regions is None)

    def _regions(self, frame_bgr: Image, time: float) -> list[Box] | None:
        """Motion regions + live tracks (their last and predicted boxes) + the faces outside the ROI last
        found, or None for the whole frame."""
        gate, search_all = self.gate, self.search_all_next
        self.search_all_next = False
        if (gate is None or gate.full or search_all or gate.motion is None or not gate.cfg.regions
                or not self.analyzer.supports_regions):
            return None
        p = self.tracker.effective or self.tracker.params
        # faces outside the ROI are not tracked but must stay found: they are blurred in every image
        boxes = list(gate.motion.boxes) + [np.array(b, np.float32) for b in self.analyzer.outside_roi]
        for t in self.tracker.tracks.values():
            if time - t.last_seen <= p.max_age_s:
                boxes += [t.box, t.predicted(time)]
        h, w = frame_bgr.shape[:2]
        return plan_regions(boxes, w, h, gate.cfg.region_margin, gate.cfg.region_max_area)

    def drain_people(self) -> dict[Verdict, int]:
        """Unique people decided per verdict since the last call (every label present); resets the count."""
        return self.people.drain(self.labels)
