"""Detection and classification metrics, computed by hand so the definitions are in plain sight.

- ``average_precision``: PASCAL VOC (2010+) all-point interpolated AP: the area under the precision-recall
  curve after making precision monotonically decreasing.
- ``detection_ap``: per class, detections of that class ranked by score over all images; a detection is a
  true positive when it overlaps a not yet matched ground-truth box of the same class with IoU >= 0.5.
- ``face_recall``: fraction of ground-truth faces (any class) overlapped by some detection with IoU >= t.
- ``classification_report``: accuracy, balanced accuracy (mean per-class recall over classes present in
  the truth), per-class precision/recall and the confusion matrix (rows true, columns predicted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import iou_matrix


@dataclass(frozen=True, slots=True)
class ImageDetections:
    """Ground truth and predictions of one image (boxes (n, 4) pixels)."""

    gt_boxes: npt.NDArray[np.float32]
    gt_labels: Sequence[str]
    pred_boxes: npt.NDArray[np.float32]
    pred_labels: Sequence[str]
    pred_scores: npt.NDArray[np.float32]


def average_precision(tp: Sequence[bool], scores: Sequence[float], n_gt: int) -> float:
    """All-point interpolated AP of ranked detections; ``tp[i]`` says if detection i is a true positive."""
    if n_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(hits), np.cumsum(1.0 - hits)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def match_class(img: ImageDetections, label: str, iou_thr: float) -> tuple[list[bool], list[float], int]:
    """True-positive flags and scores of this image's ``label`` detections, and its ``label`` GT count."""
    g = np.array([lab == label for lab in img.gt_labels], dtype=bool)
    p = np.array([lab == label for lab in img.pred_labels], dtype=bool)
    gt = img.gt_boxes[g] if len(g) else np.empty((0, 4), np.float32)
    boxes = img.pred_boxes[p] if len(p) else np.empty((0, 4), np.float32)
    scores = img.pred_scores[p] if len(p) else np.empty(0, np.float32)
    order = np.argsort(-scores, kind="stable")
    iou = iou_matrix(boxes, gt)
    used = np.zeros(len(gt), dtype=bool)
    tp: list[bool] = []
    for i in order:
        hit = False
        if len(gt):
            cand = np.where(used, -1.0, iou[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou_thr:
                used[j] = True
                hit = True
        tp.append(hit)
    return tp, [float(scores[i]) for i in order], int(g.sum())


def detection_ap(images: Sequence[ImageDetections], labels: Sequence[str], iou_thr: float = 0.5
                 ) -> dict[str, float]:
    """AP per label over all images (NaN for a label with no ground truth)."""
    out: dict[str, float] = {}
    for label in labels:
        tps: list[bool] = []
        scores: list[float] = []
        n_gt = 0
        for img in images:
            tp, sc, n = match_class(img, label, iou_thr)
            tps += tp
            scores += sc
            n_gt += n
        out[label] = average_precision(tps, scores, n_gt)
    return out


def face_recall(images: Sequence[ImageDetections], iou_thr: float = 0.5) -> float:
    """Fraction of ground-truth faces matched one-to-one (greedy by IoU) by a detection of any class."""
    from edge_agent.core.tracking import greedy_match

    found = total = 0
    for img in images:
        total += len(img.gt_boxes)
        if len(img.gt_boxes) and len(img.pred_boxes):
            found += len(greedy_match(iou_matrix(img.gt_boxes, img.pred_boxes), iou_thr))
    return found / total if total else float("nan")


def classification_report(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    """Accuracy, balanced accuracy, per-class precision/recall/support and confusion matrix over ``labels``."""
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(true, pred, strict=True):
        cm[index[t], index[p]] += 1
    n = int(cm.sum())
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    diag = np.diag(cm)
    per_class = {}
    recalls = []
    for i, lab in enumerate(labels):
        rec = float(diag[i] / support[i]) if support[i] else float("nan")
        prec = float(diag[i] / predicted[i]) if predicted[i] else float("nan")
        per_class[lab] = {"precision": prec, "recall": rec, "support": int(support[i])}
        if support[i]:
            recalls.append(rec)
    return {
        "n": n,
        "accuracy": float(diag.sum() / n) if n else float("nan"),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else float("nan"),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": cm.tolist(),
    }
