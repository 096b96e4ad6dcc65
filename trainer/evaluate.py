"""The trainer's figures come from the agent's evaluation library, so that ``maskwatch eval``, the model card
and ``bench/`` compute them one way (``edge_agent.evaluation.metrics``)."""

from __future__ import annotations

from edge_agent.evaluation.metrics import agreement, confusion, split_metrics, two_class_predictions

#: Accuracy, per-class figures, confusion matrix, per-source and two-class figures (the model card's shape).
metrics = split_metrics

__all__ = ["agreement", "confusion", "metrics", "two_class_predictions"]
