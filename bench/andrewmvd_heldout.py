"""Make a VOC folder of symlinks to the andrewmvd images the packaged model did NOT train on (its test split).

    python bench/andrewmvd_heldout.py /tmp/andrewmvd-test
    maskwatch eval --data /tmp/andrewmvd-test

Re-derives the trainer's split (trainer.splits.assign_splits: grouped by image, stratified per (source,
rarest label), strata in sorted order from one seeded generator) with the fractions and seed recorded in the
model card. Only andrewmvd is re-imported: its strata sort first, so other sources do not change its split
as long as the label rarity order is the same. The face count is checked against the card's per-source test
metrics. Nothing is copied: the folder holds links into ../shared/data.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge_agent.classifier import load_model_card
from edge_agent.config import PACKAGED_MODEL
from trainer.importers import import_voc
from trainer.options import TrainerOptions
from trainer.splits import assign_splits


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/andrewmvd")
    p.add_argument("--card", type=Path, default=PACKAGED_MODEL)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    args = p.parse_args()
    card = load_model_card(args.card)
    if card.training is None:
        p.error(f"{args.card} records no training options: pass a card written by maskwatch train")
    opts = card.training.options
    recs, _ = import_voc(args.data, "andrewmvd", tuple(card.labels))
    split = assign_splits([r.label for r in recs], [r.group for r in recs], [r.source for r in recs],
                          opts["val_fraction"], opts["test_fraction"], TrainerOptions.model_validate(opts).splits_seed)
    chosen = sorted({Path(r.path).name for r, s in zip(recs, split, strict=True) if s == args.split})
    src = args.data.resolve()
    for sub in ("images", "annotations"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    for name in chosen:
        for sub, fn in (("images", name), ("annotations", Path(name).stem + ".xml")):
            link = args.out / sub / fn
            if not link.exists():
                os.symlink(src / sub / fn, link)
    faces = sum(1 for s in split if s == args.split)
    figures = getattr(card.metrics.int8, args.split, None) if card.metrics else None  # the card has val/test only
    source = (figures.by_source or {}).get("andrewmvd") if figures else None
    expected = source.n if source else None
    print(f"{len(chosen)} {args.split} images, {faces} faces (model card, andrewmvd {args.split} faces: {expected})")
    if expected is not None and expected != faces:
        print("warning: the face counts differ; this is not the model's split")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
