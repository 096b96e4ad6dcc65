"""Evaluate the agent's detector + classifier on a VOC folder or class folders (``maskwatch eval``)."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from edge_agent.core.detections import Faces, iou_matrix
from edge_agent.core.labels import LABELS, WITH_MASK, WITHOUT_MASK
from edge_agent.evaluation.data import PhotoSample, SceneSample, read_image
from edge_agent.evaluation.metrics import ImageDetections, classification_report, detection_ap, face_recall
from edge_agent.photo import find_face_in_photo
from edge_agent.pipeline import FaceAnalyzer

log = logging.getLogger(__name__)


def class_columns(model_labels: Sequence[str], true_labels: Sequence[str]) -> list[int]:
    """Columns the argmax runs over: the model's classes present in the data when that leaves 2 or more
    (a two-class data set is not penalised for a third class it cannot contain), else all of them."""
    present = set(true_labels)
    cols = [i for i, lab in enumerate(model_labels) if lab in present]
    return cols if 2 <= len(cols) < len(model_labels) else list(range(len(model_labels)))


def _report_labels(model_labels: Sequence[str], true_labels: Sequence[str]) -> list[str]:
    used = set(model_labels) | set(true_labels)
    return [lab for lab in LABELS if lab in used]


def _classify(analyzer: FaceAnalyzer, items: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Probabilities for each (image, boxes) pair, stacked (faces of one image classified together)."""
    out = []
    for img, boxes in items:
        faces = Faces(boxes, np.ones(len(boxes), np.float32))
        out.append(analyzer.classify(img, faces)[1])
    n = len(analyzer.labels)
    return np.concatenate(out) if out else np.empty((0, n), np.float32)


def _finish_classification(analyzer: FaceAnalyzer, probs: np.ndarray, truth: list[str]) -> tuple[dict[str, Any], list[str], np.ndarray]:
    cols = class_columns(analyzer.labels, truth)
    sub = probs[:, cols]
    pick = sub.argmax(axis=1) if len(sub) else np.empty(0, np.intp)
    pred = [analyzer.labels[cols[i]] for i in pick]
    score = sub[np.arange(len(sub)), pick] if len(sub) else np.empty(0, np.float32)
    report = classification_report(truth, pred, _report_labels(analyzer.labels, truth))
    report["argmax_over"] = [analyzer.labels[c] for c in cols]
    return report, pred, score


def evaluate_folders(samples: list[PhotoSample], analyzer: FaceAnalyzer, predictions: IO[str] | None = None
                     ) -> dict[str, Any]:
    """Class-folder photos: the largest face (whole image when none is found, counted), classified."""
    t0 = time.perf_counter()
    items, truth, boxes_used, fallback = [], [], [], 0
    for s in samples:
        img = read_image(s.image)
        box = find_face_in_photo(img, analyzer.detector)
        if box is None:
            fallback += 1
            box = (0.0, 0.0, float(img.shape[1]), float(img.shape[0]))
        b = np.asarray([box], np.float32)
        items.append((img, b))
        truth.append(s.label)
        boxes_used.append(box)
    probs = _classify(analyzer, items)
    report, pred, score = _finish_classification(analyzer, probs, truth)
    report["no_face_found"] = fallback
    if predictions is not None:
        for s, box, p, sc in zip(samples, boxes_used, pred, score, strict=True):
            _write(predictions, {"image": str(s.image), "box": [round(v, 1) for v in box], "true": s.label,
                                 "pred": p, "score": round(float(sc), 4), "face_found": True})
    return {"format": "class_folders", "images": len(samples), "classification": report,
            "seconds": round(time.perf_counter() - t0, 1)}


def evaluate_voc(samples: list[SceneSample], analyzer: FaceAnalyzer, predictions: IO[str] | None = None
                 ) -> dict[str, Any]:
    """VOC scenes: classify the ground-truth faces, and run the whole pipeline for mAP@0.5 and recall."""
    t0 = time.perf_counter()
    gt_probs, truth, per_image, detect_ms = [], [], [], []
    labels = analyzer.labels
    for s in samples:
        img = read_image(s.image)
        if len(s.boxes):
            gt_probs.append(_classify(analyzer, [(img, s.boxes)]))
            truth += list(s.labels)
        t = time.perf_counter()
        faces = analyzer.analyse(img)
        detect_ms.append((time.perf_counter() - t) * 1000.0)
        pred_labels = [labels[i] for i in faces.class_id]
        per_image.append(ImageDetections(s.boxes, s.labels, faces.xyxy, pred_labels,
                                         (faces.score * faces.class_score).astype(np.float32)))
    probs = np.concatenate(gt_probs) if gt_probs else np.empty((0, len(labels)), np.float32)
    report, pred, score = _finish_classification(analyzer, probs, truth)
    ap = detection_ap(per_image, [lab for lab in LABELS if lab in set(truth) | set(labels)])
    main = [ap[k] for k in (WITH_MASK, WITHOUT_MASK) if k in ap and not math.isnan(ap[k])]
    finite = [v for v in ap.values() if not math.isnan(v)]
    detection = {
        "ap50": ap,
        "map50_with_without": float(np.mean(main)) if main else float("nan"),
        "map50_all": float(np.mean(finite)) if finite else float("nan"),
        "face_recall_iou50": face_recall(per_image, 0.5),
        "face_recall_iou30": face_recall(per_image, 0.3),
        "gt_faces": int(sum(len(i.gt_boxes) for i in per_image)),
        "detections": int(sum(len(i.pred_boxes) for i in per_image)),
        "ms_per_image_mean": round(float(np.mean(detect_ms)), 1) if detect_ms else None,
    }
    if predictions is not None:
        k = 0
        for s in samples:
            for box, true in zip(s.boxes, s.labels, strict=True):
                _write(predictions, {"image": str(s.image), "kind": "ground_truth", "box": _box(box), "true": true,
                                     "pred": pred[k], "score": round(float(score[k]), 4)})
                k += 1
        for s, im in zip(samples, per_image, strict=True):
            for box, lab, sc in zip(im.pred_boxes, im.pred_labels, im.pred_scores, strict=True):
                _write(predictions, {"image": str(s.image), "kind": "detection", "box": _box(box),
                                     "true": _matched_label(box, im), "pred": lab, "score": round(float(sc), 4)})
    return {"format": "voc", "images": len(samples), "classification": report, "detection": detection,
            "seconds": round(time.perf_counter() - t0, 1)}


def _matched_label(box: np.ndarray, im: ImageDetections) -> str | None:
    """Label of the ground-truth face this detection overlaps most (IoU >= 0.5), else None."""
    if not len(im.gt_boxes):
        return None
    iou = iou_matrix(box[None], im.gt_boxes)[0]
    j = int(np.argmax(iou))
    return im.gt_labels[j] if iou[j] >= 0.5 else None


def _box(b: np.ndarray) -> list[float]:
    return [round(float(v), 1) for v in b]


def _write(fh: IO[str], row: dict[str, Any]) -> None:
    fh.write(json.dumps(row) + "\n")
