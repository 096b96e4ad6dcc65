"""Score a model on every face of a data set it never trained on: the independent-source figure.

    python bench/cross_source.py --folders ../shared/data/chandrikadeb7 --card runs/<run>/model_card.json
    python bench/cross_source.py --voc ../shared/data/andrewmvd --card runs/<run>/model_card.json

The faces are imported and cropped the way the trainer does it (VOC boxes, or the agent's detector on class-folder
photos; the crop spec comes from the card) and run through the agent's own ``Classifier`` (int8). Prints accuracy,
per-class recall and precision, and the two-class accuracy on its ``with_mask`` / ``without_mask`` faces (the
larger of those two probabilities). The shipped model trained on both sets in ../shared/data, so for it there is no
independent set here; the figure is for leave-one-source-out runs (``maskwatch train --voc A`` scored on B), and
for a user's own photos. A source the card lists among its training data is refused unless ``--allow-seen``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_agent.classifier import Classifier, load_model_card
from edge_agent.config import PACKAGED_MODEL
from edge_agent.core.crop import CropSpec
from edge_agent.core.labels import WITH_MASK, WITHOUT_MASK
from edge_agent.evaluation.metrics import split_metrics, two_class_predictions
from trainer.data import import_source
from trainer.dataset import load_or_crop
from trainer.options import SourceOptions, TrainerOptions

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--voc", type=Path, help="VOC data set (images/ + annotations/)")
    g.add_argument("--folders", type=Path, help="folder of class folders")
    p.add_argument("--card", type=Path, default=PACKAGED_MODEL)
    p.add_argument("--cache-dir", type=Path, default=Path("runs/cache"))
    p.add_argument("--allow-seen", action="store_true", help="score a source the model trained on (not independent)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    card = load_model_card(args.card)
    src = SourceOptions(type="voc" if args.voc else "folders", path=args.voc or args.folders)
    here = src.path.resolve()  # a card's relative paths are as given to the trainer: from here or the repository root
    seen = [s["path"] for s in (card.training.options.get("sources", []) if card.training else [])
            if here in (Path(s["path"]).resolve(), (REPO / s["path"]).resolve())]
    if seen and not args.allow_seen:
        p.error(f"{args.card} was trained on {src.path} (its card lists it); pass --allow-seen to score it anyway")
    opts = TrainerOptions(sources=[src], labels=card.labels, input_size=card.crop.size,
                          crop_margin=card.crop.margin, cache_dir=args.cache_dir)
    records, report, _ = import_source(src, opts)
    faces = load_or_crop(records, CropSpec(size=opts.input_size, margin=opts.crop_margin), opts.cache_dir)
    clf = Classifier(args.card)
    probs = np.concatenate([clf.predict_proba(faces.exact[i:i + 64]) for i in range(0, len(faces), 64)])
    m = split_metrics(probs, faces.labels, card.labels, faces.sources)
    entry = m["by_source"][src.label]  # type: ignore[index]
    print(f"{card.name} on {src.label} ({len(faces)} faces from {report.as_dict().get('files', '?')} files, "
          f"never trained on: {not seen}): accuracy {entry['accuracy']:.4f}")
    for label, pc in entry["per_class"].items():
        if pc["support"]:
            precision = "n/a" if pc["precision"] is None else f"{pc['precision']:.4f}"
            print(f"  {label:15s} {pc['support']:5d} faces  recall {pc['recall']:.4f}  precision {precision}")
    two = np.isin(faces.labels, [WITH_MASK, WITHOUT_MASK])
    if two.any():  # with/without faces only, by the larger of those two probabilities
        pred = two_class_predictions(probs[two], card.labels)
        m["two_class"] = {"n": int(two.sum()), "accuracy": round(float((pred == (faces.labels[two] == WITHOUT_MASK)).mean()), 4)}
        print(f"  two-class accuracy on its {m['two_class']['n']} with_mask/without_mask faces: {m['two_class']['accuracy']:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"model": card.name, "source": str(src.path), "seen": bool(seen), **m}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
