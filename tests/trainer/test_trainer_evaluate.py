"""Metrics: confusion matrix, per-class precision/recall/F1, two-class accuracy per source, agreement."""

import numpy as np
import pytest

from trainer.evaluate import agreement, metrics

LABELS = ["with_mask", "without_mask", "mask_incorrect"]


def _probs(pred: list[int]) -> np.ndarray:
    out = np.full((len(pred), 3), 0.1, np.float32)
    out[np.arange(len(pred)), pred] = 0.8
    return out


def test_confusion_and_per_class_figures():
    truth = ["with_mask", "with_mask", "without_mask", "mask_incorrect"]
    m = metrics(_probs([0, 2, 1, 2]), truth, LABELS)
    assert m["accuracy"] == 0.75
    assert m["confusion"]["rows_true_cols_pred"] == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert m["per_class"]["mask_incorrect"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(0.6667), "support": 1}
    assert m["per_class"]["with_mask"]["recall"] == 0.5


def test_two_class_accuracy_only_for_two_class_sources():
    truth = ["with_mask", "without_mask", "with_mask", "mask_incorrect"]
    probs = np.array([[0.3, 0.1, 0.6], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.1, 0.8]], np.float32)
    m = metrics(probs, truth, LABELS, ["two", "two", "three", "three"])
    two = m["by_source"]["two"]
    assert two["accuracy"] == 0.5  # mask_incorrect is a wrong answer for a masked face...
    assert two["two_class_accuracy"] == 1.0  # ...but with_mask beats without_mask in the two-class reading
    assert "two_class_accuracy" not in m["by_source"]["three"]


def test_agreement():
    assert agreement(_probs([0, 1, 2, 2]), _probs([0, 1, 2, 1])) == 0.75


def test_eval_and_trainer_report_agree_on_the_same_faces():
    """``maskwatch eval`` and the model card compute per-class figures by one rule (edge_agent.evaluation)."""
    from types import SimpleNamespace

    from edge_agent.evaluation.run import _finish_classification

    rng = np.random.default_rng(3)
    truth = list(rng.choice(LABELS, size=200, p=[0.6, 0.35, 0.05]))
    probs = rng.dirichlet(np.ones(3), size=200).astype(np.float32)
    probs[:5, 2] = 0.99  # mask_incorrect predicted at least a few times
    probs[:5] /= probs[:5].sum(axis=1, keepdims=True)
    card = metrics(probs, truth, LABELS)
    report, _, _ = _finish_classification(SimpleNamespace(labels=tuple(LABELS)), probs, truth)
    assert report["confusion"] == card["confusion"]["rows_true_cols_pred"]
    assert round(report["accuracy"], 4) == card["accuracy"]
    for label in LABELS:
        for key in ("precision", "recall", "f1", "support"):
            assert card["per_class"][label][key] == pytest.approx(report["per_class"][label][key], abs=5e-5), (label, key)


def test_absent_class_is_undefined_in_both_reports():
    from edge_agent.evaluation.metrics import classification_report

    truth = ["with_mask", "without_mask", "with_mask"]
    card = metrics(_probs([0, 1, 1]), truth, LABELS)
    assert card["per_class"]["mask_incorrect"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    report = classification_report(truth, ["with_mask", "without_mask", "without_mask"], LABELS)
    assert all(np.isnan(report["per_class"]["mask_incorrect"][k]) for k in ("precision", "recall", "f1"))
    assert card["per_class"]["without_mask"]["f1"] == pytest.approx(report["per_class"]["without_mask"]["f1"], abs=5e-5)
    assert report["per_class"]["without_mask"]["f1"] == pytest.approx(2 / 3)


def test_two_class_set_eval_accuracy_is_the_cards_two_class_accuracy():
    """On a set without mask_incorrect faces eval takes the argmax over the classes present; the card records the
    same reading as ``two_class_accuracy`` of that source."""
    from types import SimpleNamespace

    from edge_agent.evaluation.run import _finish_classification

    rng = np.random.default_rng(5)
    truth = list(rng.choice(["with_mask", "without_mask"], size=150))
    probs = rng.dirichlet(np.ones(3), size=150).astype(np.float32)
    card = metrics(probs, truth, LABELS, ["folders"] * len(truth))
    report, _, _ = _finish_classification(SimpleNamespace(labels=tuple(LABELS)), probs, truth)
    assert report["argmax_over"] == ["with_mask", "without_mask"]
    assert round(report["accuracy"], 4) == card["by_source"]["folders"]["two_class_accuracy"]
