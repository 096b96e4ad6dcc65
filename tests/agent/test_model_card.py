"""The model card: the trainer writes the typed ModelCard that the agent reads (no TensorFlow needed here)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edge_agent.classifier import ModelError, load_model_card
from edge_agent.config import PACKAGED_MODEL
from edge_agent.core.labels import LABELS
from edge_agent.model_card import CardMetrics, ModelCard, SplitMetrics
from trainer.data import SplitData
from trainer.dataset import FaceSet
from trainer.evaluate import agreement, metrics
from trainer.options import parse_options
from trainer.pipeline import build_card, finish_card
from trainer.report import card_markdown


def _faces(labels: list[str], sources: list[str]) -> FaceSet:
    n = len(labels)
    return FaceSet(np.zeros((n, 32, 32, 3), np.uint8), np.zeros((n, 40, 40, 3), np.uint8), np.array(labels),
                   np.array([f"g{i}" for i in range(n)]), np.array(sources), np.array([f"f{i}.png" for i in range(n)]),
                   np.full(n, 30.0, np.float32))


def _trainer_card(tmp_path: Path) -> ModelCard:
    """Everything the trainer's pipeline does to the card, with a fake fit and made-up probabilities."""
    opts = parse_options({"sources": [{"type": "voc", "path": str(tmp_path)}], "input_size": 32,
                          "runs_dir": str(tmp_path / "runs"), "cache_dir": str(tmp_path / "cache")})
    truth = ["with_mask", "without_mask", "with_mask", "mask_incorrect", "with_mask", "without_mask"]
    sources = ["voc", "voc", "voc", "voc", "folders", "folders"]
    split = _faces(truth, sources)
    data = SplitData(split, split, split, [{"source": "voc", "files": 4, "faces": {"with_mask": 2}, "dropped": {},
                                            "path": str(tmp_path), "type": "voc", "fingerprint": "abc",
                                            "faces_used": {"with_mask": 2}}])
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=len(truth)).astype(np.float32)
    figures = metrics(probs, truth, LABELS, sources)
    sets = {"val": figures, "test": figures, "test_dark": figures}
    fit = SimpleNamespace(best_epoch=2, seconds=12.34, history=[
        {"epoch": 1, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.85, "val_balanced_recall": 0.8},
        {"epoch": 2, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.3, "val_accuracy": 0.9, "val_balanced_recall": 0.85}])
    card = build_card(opts, "roundtrip", 1234, data, b"\0" * 100, "maskwatch train --name roundtrip")
    all_metrics = {"float": sets, "int8": sets, "float_int8_agreement": agreement(probs, probs),
                   "fit_on": opts.fit_on, "val_held_out": True}
    return finish_card(card, all_metrics, fit, opts)


def test_trainer_written_card_parses_in_the_agent(tmp_path: Path) -> None:
    card = _trainer_card(tmp_path)
    path = tmp_path / "model_card.json"
    card.write(path)
    loaded = load_model_card(path)
    assert loaded == card
    assert loaded.metrics is not None and loaded.training is not None
    test = loaded.metrics.int8.test
    assert test.n == 6 and test.by_source is not None and set(test.by_source) == {"folders", "voc"}
    # the folders set holds no mask_incorrect face: its two-class figure is recorded, the voc set's is absent
    raw = json.loads(path.read_text())
    assert "two_class_accuracy" in raw["metrics"]["int8"]["test"]["by_source"]["folders"]
    assert "two_class_accuracy" not in raw["metrics"]["int8"]["test"]["by_source"]["voc"]
    # a class absent from a set has undefined figures, written as null, and the Markdown says n/a
    absent = raw["metrics"]["int8"]["test"]["by_source"]["folders"]["per_class"]["mask_incorrect"]
    assert absent["support"] == 0 and absent["recall"] is None
    assert loaded.training.history[0]["epoch"] == 1 and isinstance(raw["training"]["history"][0]["epoch"], int)
    assert "# Model card: roundtrip" in card_markdown(raw)


def test_card_sections_are_typed(tmp_path: Path) -> None:
    raw = json.loads(_trainer_card(tmp_path).to_json())
    raw["metrics"]["int8"]["test"]["per_class"]["with_mask"]["recal"] = 0.5  # a typo in a section
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="recal"):
        load_model_card(path)


def test_committed_card_parses_and_round_trips() -> None:
    text = PACKAGED_MODEL.read_text()
    card = load_model_card(PACKAGED_MODEL)
    assert isinstance(card.metrics, CardMetrics) and isinstance(card.metrics.int8.test, SplitMetrics)
    assert card.metrics.int8.test.accuracy is not None and card.training is not None
    assert json.loads(card.to_json()) == json.loads(text)


def test_minimal_hand_written_card_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"model_file": "m.tflite", "labels": ["with_mask", "without_mask"],
                                "crop": {"size": 64, "margin": 0.15}, "input_size": 64}))
    card = load_model_card(path)
    assert card.metrics is None and card.labels == ["with_mask", "without_mask"]
