"""Detection and classification metrics, computed by hand so the definitions are in plain sight.

- ``average_precision``: PASCAL VOC (2010+) all-point interpolated AP: the area under the precision-recall
  curve after making precision monotonically decreasing.
- ``detection_ap``: per class, detections of that class ranked by score over all images; a detection is a
  true positive when it overlaps a not yet matched ground-truth box of the same class with IoU >= 0.5.
- ``face_recall``: fraction of ground-truth faces (any class) overlapped by some detection with IoU >= t.
- ``classification_report`` (``maskwatch eval``) and ``split_metrics`` (the trainer's model card, bench/):
  accuracy, per-class precision/recall/F1 by one rule (``class_figures``: undefined is NaN / ``null``, never
  0), the confusion matrix (rows true, columns predicted); the first adds balanced accuracy (mean per-class
  recall over classes present in the truth), the second per-source and two-class figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import iou_matrix
from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK


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


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def confusion(y: npt.ArrayLike, pred: npt.ArrayLike, n: int) -> npt.NDArray[np.int64]:
    """Rows: true class id, columns: predicted class id."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y, np.int64), np.asarray(pred, np.int64)), 1)
    return m


def class_figures(cm: npt.NDArray[np.int64], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per class precision, recall, F1 and support from a confusion matrix: THE rule for every report.

    Undefined figures are NaN, never 0: precision of a class never predicted, recall of a class absent from
    the truth, F1 (= 2 TP / (support + predicted)) of a class neither in the truth nor predicted.
    """
    support, predicted, tp = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm)
    return {label: {"precision": _ratio(float(tp[i]), float(predicted[i])),
                    "recall": _ratio(float(tp[i]), float(support[i])),
                    "f1": _ratio(2.0 * float(tp[i]), float(support[i] + predicted[i])),
                    "support": int(support[i])} for i, label in enumerate(labels)}


def classification_report(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    """Accuracy, balanced accuracy, per-class precision/recall/F1/support and confusion matrix over ``labels``."""
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true labels but {len(pred)} predictions")
    index = {lab: i for i, lab in enumerate(labels)}
    cm = confusion([index[t] for t in true], [index[p] for p in pred], len(labels))
    n = int(cm.sum())
    per_class = class_figures(cm, labels)
    recalls = [pc["recall"] for pc in per_class.values() if pc["support"]]
    return {
        "n": n,
        "accuracy": _ratio(float(np.trace(cm)), n),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else float("nan"),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": cm.tolist(),
    }


def _r4(x: float) -> float | None:
    """Figures as the model card records them: 4 decimals, ``None`` where undefined."""
    return None if math.isnan(x) else round(x, 4)


def _card_classes(cm: npt.NDArray[np.int64], labels: Sequence[str]) -> dict[str, dict[str, float | int | None]]:
    return {label: {k: (v if k == "support" else _r4(v)) for k, v in pc.items()}
            for label, pc in class_figures(cm, labels).items()}


def two_class_predictions(probs: npt.NDArray[np.float32], labels: Sequence[str]) -> npt.NDArray[np.int64]:
    """with_mask (0) / without_mask (1) by the larger of those two probabilities."""
    w, wo = labels.index(WITH_MASK), labels.index(WITHOUT_MASK)
    return (probs[:, wo] > probs[:, w]).astype(np.int64)


def split_metrics(probs: npt.NDArray[np.float32], y_true: Sequence[str], labels: Sequence[str],
                  sources: Sequence[str] | None = None) -> dict[str, object]:
    """One model on one set of crops, in the model card's shape (``edge_agent.model_card.SplitMetrics``):
    the argmax over all ``labels``; per data set with ``sources``, plus a two-class figure for a set that holds
    no ``mask_incorrect`` faces. Per-class figures follow :func:`class_figures`."""
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[t] for t in y_true], np.int64)
    pred = probs.argmax(axis=1).astype(np.int64) if len(probs) else np.empty(0, np.int64)
    m = confusion(y, pred, len(labels))
    out: dict[str, object] = {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4) if len(y) else None,
        "per_class": _card_classes(m, labels),
        "confusion": {"labels": labels, "rows_true_cols_pred": m.tolist()},
    }
    if sources is not None:
        src = np.asarray(sources)
        by_source: dict[str, object] = {}
        for name in sorted(set(src.tolist())):
            sel = src == name
            present = sorted({labels[i] for i in y[sel]})
            entry: dict[str, object] = {"n": int(sel.sum()), "accuracy": round(float((pred[sel] == y[sel]).mean()), 4)}
            if MASK_INCORRECT not in present and set(present) <= {WITH_MASK, WITHOUT_MASK} and MASK_INCORRECT in labels:
                two = two_class_predictions(probs[sel], labels)
                truth = (y[sel] == index[WITHOUT_MASK]).astype(np.int64)
                entry["two_class_accuracy"] = round(float((two == truth).mean()), 4)
            entry["per_class"] = _card_classes(confusion(y[sel], pred[sel], len(labels)), labels)
            by_source[name] = entry
        out["by_source"] = by_source
    return out


def agreement(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Share of crops where two models pick the same class."""
    return round(float((a.argmax(axis=1) == b.argmax(axis=1)).mean()), 4) if len(a) else 1.0
