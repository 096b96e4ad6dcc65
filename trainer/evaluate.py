"""Metrics: accuracy, per-class precision/recall/F1, confusion matrix, per-source and two-class figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK


def confusion(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """Rows: true class, columns: predicted class."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def per_class(m: npt.NDArray[np.int64], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for i, label in enumerate(labels):
        tp = float(m[i, i])
        support = float(m[i].sum())
        predicted = float(m[:, i].sum())
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "support": int(support)}
    return out


def two_class_predictions(probs: npt.NDArray[np.float32], labels: Sequence[str]) -> npt.NDArray[np.int64]:
    """with_mask (0) / without_mask (1) by the larger of those two probabilities."""
    w, wo = labels.index(WITH_MASK), labels.index(WITHOUT_MASK)
    return (probs[:, wo] > probs[:, w]).astype(np.int64)


def metrics(
    probs: npt.NDArray[np.float32], y_true: Sequence[str], labels: Sequence[str], sources: Sequence[str] | None = None
) -> dict[str, object]:
    """All figures for one model on one set of crops."""
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[t] for t in y_true], np.int64)
    pred = probs.argmax(axis=1).astype(np.int64) if len(probs) else np.empty(0, np.int64)
    m = confusion(y, pred, len(labels))
    out: dict[str, object] = {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4) if len(y) else None,
        "per_class": per_class(m, labels),
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
            entry["per_class"] = per_class(confusion(y[sel], pred[sel], len(labels)), labels)
            by_source[name] = entry
        out["by_source"] = by_source
    return out


def agreement(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Share of crops where two models pick the same class."""
    return round(float((a.argmax(axis=1) == b.argmax(axis=1)).mean()), 4) if len(a) else 1.0
