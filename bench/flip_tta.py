"""Flip test-time augmentation for the int8 classifier: is the mean of a face and its mirror image better?

    python bench/flip_tta.py [--card CARD] [--cache-dir DIR]

Re-imports the sources and the split recorded in the model card (``trainer.data.load_data``: the
chandrikadeb7 faces are found with CenterFace once, then cached under ``--cache-dir``), and scores the card's
int8 model on its test split (the faces it never trained on) with the agent's ``Classifier``: the plain
prediction, and the mean of the probabilities of the crop and of its horizontal mirror (two calls per face).
Prints the model card's figures per data set for both (andrewmvd 3-class accuracy, ``mask_incorrect`` recall,
chandrikadeb7 two-class accuracy) and the time per face of each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edge_agent.classifier import Classifier, load_model_card
from edge_agent.config import PACKAGED_MODEL
from edge_agent.core.labels import MASK_INCORRECT
from edge_agent.evaluation.metrics import split_metrics
from trainer.data import load_data
from trainer.options import TrainerOptions


def probs_of(clf: Classifier, images: np.ndarray, flip: bool) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = []
    for i in range(0, len(images), 64):
        batch = np.ascontiguousarray(images[i:i + 64])
        p = clf.predict_proba(batch)
        if flip:
            p = (p + clf.predict_proba(np.ascontiguousarray(batch[:, :, ::-1]))) / 2.0
        out.append(p)
    ms = (time.perf_counter() - t0) * 1000.0 / max(len(images), 1)
    return np.concatenate(out), ms


def figures(m: dict, label: str) -> dict[str, object]:
    row: dict[str, object] = {}
    for source, s in m["by_source"].items():
        row[source] = {"n": s["n"], "accuracy": s["accuracy"], **({"two_class": s["two_class_accuracy"]}
                                                                    if "two_class_accuracy" in s else {})}
        inc = s["per_class"].get(MASK_INCORRECT, {})
        if inc.get("support"):
            row[source]["mask_incorrect_recall"] = inc["recall"]
    row["name"] = label
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--card", type=Path, default=PACKAGED_MODEL)
    p.add_argument("--cache-dir", type=Path, default=Path("runs/cache"))
    p.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[1].parent,
                   help="folder the card's relative source paths start from (default: the worktree's parent)")
    a = p.parse_args()
    card = load_model_card(a.card)
    if card.training is None:
        p.error(f"{a.card} records no training options")
    opts = dict(card.training.options)
    opts["sources"] = [{**s, "path": str((a.data_root / Path(s["path"]).relative_to("..")).resolve())
                        if s["path"].startswith("..") else s["path"]} for s in opts["sources"]]
    opts["cache_dir"] = str(a.cache_dir)
    data = load_data(TrainerOptions.model_validate(opts))
    clf = Classifier(a.card, threads=1)
    test = data.test
    for flip in (False, True):
        probs, ms = probs_of(clf, test.exact, flip)
        m = split_metrics(probs, test.labels.tolist(), list(clf.labels), test.sources.tolist())
        print(json.dumps({**figures(m, "flip mean" if flip else "plain"), "ms_per_face": round(ms, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
