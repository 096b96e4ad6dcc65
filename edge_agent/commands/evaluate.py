"""``maskwatch eval --data DIR [--json] [--predictions FILE] [--limit N]``: measure the agent on data.

DIR is a VOC folder (images/ + annotations/*.xml): ground-truth faces are classified (accuracy, confusion)
and the whole pipeline runs (mAP@0.5 per class, face recall). Or class folders (DIR/<label>/*.jpg): the
largest face of each photo is classified. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from edge_agent.commands.detect import add_detector_arguments, load_with_overrides

HELP = "evaluate detector + classifier on a VOC folder or class folders (accuracy, mAP@0.5, recall)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="VOC folder (images/, annotations/) or class folders")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--predictions", type=Path, help="write one JSON line per face: image, box, true, pred, score")
    p.add_argument("--limit", type=int, help="use only the first N images (quick runs)")
    add_detector_arguments(p)


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 4)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _print_text(r: dict[str, Any]) -> None:
    c = r["classification"]
    print(f"data: {r['data']} ({r['format']}, {r['images']} images, {r['seconds']} s)")
    print(f"detector ({r['profile']} profile): {r['detector']}   model: {r['model_card']}")
    print(f"classification of {c['n']} ground-truth faces (argmax over {', '.join(c['argmax_over'])}):")
    print(f"  accuracy {c['accuracy']}  balanced accuracy {c['balanced_accuracy']}")
    if "no_face_found" in c:
        print(f"  photos with no face found (whole image classified): {c['no_face_found']}")
    for lab, m in c["per_class"].items():
        print(f"  {lab:15} precision {m['precision']}  recall {m['recall']}  F1 {m['f1']}  support {m['support']}")
    print("  confusion (rows true, columns predicted): " + "  ".join(c["labels"]))
    for lab, row in zip(c["labels"], c["confusion"], strict=True):
        print(f"  {lab:15} " + " ".join(f"{v:6d}" for v in row))
    d = r.get("detection")
    if d:
        print(f"pipeline: mAP@0.5 with/without mask {d['map50_with_without']}  (all classes {d['map50_all']})")
        for lab, ap in d["ap50"].items():
            print(f"  AP@0.5 {lab:15} {ap}")
        print(f"  face recall IoU>=0.5 {d['face_recall_iou50']}  IoU>=0.3 {d['face_recall_iou30']}  "
              f"({d['gt_faces']} faces, {d['detections']} detections, {d['ms_per_image_mean']} ms/image)")


def run(args: argparse.Namespace) -> int:
    import cv2

    from edge_agent.evaluation.data import is_voc, read_class_folders, read_voc
    from edge_agent.evaluation.run import evaluate_folders, evaluate_voc
    from edge_agent.pipeline import FaceAnalyzer

    if args.limit is not None and args.limit < 1:
        raise SystemExit("maskwatch eval: --limit must be >= 1")
    cfg = load_with_overrides(args)
    cv2.setNumThreads(1)
    analyzer = FaceAnalyzer(cfg)
    fh = args.predictions.open("w", encoding="utf-8") if args.predictions else None
    try:
        if is_voc(args.data):
            result = evaluate_voc(read_voc(args.data, args.limit), analyzer, fh)
        else:
            result = evaluate_folders(read_class_folders(args.data, args.limit), analyzer, fh)
    finally:
        if fh is not None:
            fh.close()
    result = {"data": str(args.data), **result, "profile": args.profile, "detector": cfg.detector.model_dump(mode="json"),
              "model_card": str(cfg.classifier.model_card)}
    result = _clean(result)
    if args.json:
        print(json.dumps(result))
    else:
        _print_text(result)
    return 0
