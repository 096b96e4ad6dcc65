"""Detector benchmark: ms per frame at 640x480 and 1280x720 on one core, and optionally face recall.

    python bench/bench_detector.py                      # timings of the default detector settings
    python bench/bench_detector.py --pipeline           # also detect + crop + classify (needs the model)
    python bench/bench_detector.py --recall ../shared/data/andrewmvd --limit 200

Prints one JSON object (``--json``) or a table. Frames are real faces: skimage's astronaut pasted at a few
sizes onto a grey scene (or andrewmvd scenes resized, when ``--scenes DIR`` is given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edge_agent.config import BlazeFaceConfig, CenterFaceConfig, Config
from edge_agent.detectors import create_detector

SIZES = ((640, 480), (1280, 720))
CONFIGS = {
    "centerface x1.0": CenterFaceConfig(type="centerface", input_scale=1.0),
    "centerface x0.5": CenterFaceConfig(type="centerface", input_scale=0.5),
    "centerface x2.0": CenterFaceConfig(type="centerface", input_scale=2.0),
    "blazeface full": BlazeFaceConfig(type="blazeface", range="full"),
    "blazeface short": BlazeFaceConfig(type="blazeface", range="short"),
}


def synthetic_frame(width: int, height: int) -> np.ndarray:
    import skimage.data

    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((height, width, 3), 110, np.uint8)
    x = 0
    for side in (height // 2, height // 4, height // 8):
        tile = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        if x + side <= width:
            frame[height - side:, x:x + side] = tile
        x += side + 10
    return frame


def time_detector(det, frame: np.ndarray, repeat: int) -> dict[str, float]:
    det.detect(frame)  # warm-up (network planning)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        det.detect(frame)
        ts.append((time.perf_counter() - t) * 1000.0)
    ts.sort()
    return {"median_ms": round(statistics.median(ts), 1), "p90_ms": round(ts[int(0.9 * (len(ts) - 1))], 1),
            "fps": round(1000.0 / statistics.median(ts), 1)}


def recall(det, data: Path, limit: int) -> dict[str, float]:
    from edge_agent.core.detections import iou_matrix
    from edge_agent.core.tracking import greedy_match
    from edge_agent.evaluation.data import read_voc

    found30 = found50 = total = 0
    ms = []
    for s in read_voc(data, limit):
        img = cv2.imread(str(s.image))
        t = time.perf_counter()
        faces = det.detect(img)
        ms.append((time.perf_counter() - t) * 1000.0)
        total += len(s.boxes)
        iou = iou_matrix(s.boxes, faces.xyxy)
        found30 += len(greedy_match(iou, 0.3))
        found50 += len(greedy_match(iou, 0.5))
    return {"recall_iou30": round(found30 / total, 3), "recall_iou50": round(found50 / total, 3),
            "faces": total, "mean_ms": round(statistics.mean(ms), 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=list(CONFIGS), help="detector settings to run (default: all)")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--pipeline", action="store_true", help="also time detect + classify with the packaged model")
    p.add_argument("--recall", type=Path, help="VOC folder to measure face recall on")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1: one core)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    cv2.setNumThreads(args.threads)
    rows = []
    for name in args.only or list(CONFIGS):
        det = create_detector(CONFIGS[name])
        for w, h in SIZES:
            row = {"detector": name, "frame": f"{w}x{h}", **time_detector(det, synthetic_frame(w, h), args.repeat)}
            rows.append(row)
        if args.recall:
            rows.append({"detector": name, "frame": f"recall {args.recall.name}[:{args.limit}]",
                         **recall(det, args.recall, args.limit)})
    if args.pipeline:
        from edge_agent.pipeline import FramePipeline

        for name in args.only or ["centerface x0.5", "centerface x1.0"]:
            pipe = FramePipeline(Config(detector=CONFIGS[name]))
            for w, h in SIZES:
                frame = synthetic_frame(w, h)
                rows.append({"detector": f"pipeline {name}", "frame": f"{w}x{h}",
                             **time_detector(_Proc(pipe), frame, args.repeat)})
    if args.json:
        print(json.dumps({"threads": args.threads, "results": rows}))
    else:
        keys = sorted({k for r in rows for k in r} - {"detector", "frame"})
        print(f"{'detector':28} {'frame':30} " + " ".join(f"{k:>13}" for k in keys))
        for r in rows:
            print(f"{r['detector']:28} {r['frame']:30} " + " ".join(f"{r.get(k, ''):>13}" for k in keys))
    return 0


class _Proc:
    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.t = 0.0

    def detect(self, frame: np.ndarray):
        self.t += 0.2
        return self.pipe.process(frame, self.t)


if __name__ == "__main__":
    raise SystemExit(main())
