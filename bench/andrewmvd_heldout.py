"""Make a VOC folder of symlinks to the andrewmvd images the packaged model did NOT train on (its test split).

    python bench/andrewmvd_heldout.py /tmp/andrewmvd-test
    maskwatch eval --data /tmp/andrewmvd-test

Re-derives the trainer's split (trainer.splits.assign_splits: grouped by image, stratified) with the fractions
and seed recorded in the model card. Only VOC sources are re-imported here, so the split is exact when
andrewmvd is the card's only source (check the printed face count against the card's test split).
Nothing is copied: the folder holds links into ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from edge_agent.config import PACKAGED_MODEL
from trainer.importers import import_voc
from trainer.splits import assign_splits


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/andrewmvd")
    p.add_argument("--card", type=Path, default=PACKAGED_MODEL)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    args = p.parse_args()
    card = json.loads(args.card.read_text())
    opts = card["training"]["options"]
    others = [s for s in opts["sources"] if s["type"] != "voc"]
    if others:
        print(f"warning: the card also trained on {[s['path'] for s in others]}; the split may differ")
    recs, _ = import_voc(args.data, "andrewmvd", tuple(card["labels"]))
    split = assign_splits([r.label for r in recs], [r.group for r in recs], [r.source for r in recs],
                          opts["val_fraction"], opts["test_fraction"], opts["seed"])
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
    print(f"{len(chosen)} {args.split} images, {faces} faces (card: {sum(card['splits'][args.split].values())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
