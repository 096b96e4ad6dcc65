"""Every camera of one agent shares one detector and one classifier interpreter (each TFLite interpreter
holds its own arena and thread pool); a reload reads the model card again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_agent.config import parse_config
from edge_agent.runtime import Runtime


def _config(tmp_path: Path) -> object:
    return parse_config({"queue": {"path": str(tmp_path / "q.sqlite3")}, "detector": {"type": "fake", "boxes": []},
                         "cameras": [{"name": f"c{i}", "source": {"type": "demo"}} for i in range(3)]})


def test_cameras_share_one_classifier_and_a_reload_loads_it_again(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    rt = Runtime(cfg)  # type: ignore[arg-type]
    try:
        first = rt._make_pipelines(cfg)  # type: ignore[arg-type]
        classifiers = {id(p.analyzer.classifier) for p in first.values()}  # type: ignore[attr-defined]
        assert len(first) == 3 and len(classifiers) == 1
        again = rt._make_pipelines(cfg)  # type: ignore[arg-type]
        assert {id(p.analyzer.classifier) for p in again.values()}.isdisjoint(classifiers)  # type: ignore[attr-defined]
    finally:
        rt.outbox.close()


def test_the_shared_classifier_gives_the_classifiers_answers(tmp_path: Path) -> None:
    from edge_agent.classifier import Classifier

    cfg = _config(tmp_path)
    rt = Runtime(cfg)  # type: ignore[arg-type]
    try:
        shared = rt.default_pipeline(cfg, cfg.cameras[0]).analyzer.classifier  # type: ignore[arg-type,attr-defined]
    finally:
        rt.outbox.close()
    own = Classifier(cfg.classifier.model_card)  # type: ignore[attr-defined]
    crops = np.random.default_rng(3).integers(0, 255, (4, own.card.input_size, own.card.input_size, 3), np.uint8)
    assert shared.labels == own.labels and shared.crop == own.crop
    assert np.array_equal(shared.predict_proba(crops), own.predict_proba(crops))
