"""Detector benchmark: ms per frame at 640x480 and 1280x720 on one core, and optionally face recall.

    python bench/bench_detector.py                      # timings of the default detector settings
    python bench/bench_detector.py --pipeline           # also detect + crop + classify (needs the model)
    python bench/bench_detector.py --recall ../shared/data/andrewmvd --limit 200
    python bench/bench_detector.py --stream --only "centerface x0.5"   # 720p stream: pipeline fps + recall

Prints one JSON object (``--json``) or a table. Frames come from the agent's demo scene (real packaged face
photos, some wearing drawn masks, crossing a corridor), rendered at 640x480 and 1280x720; timing cycles
through several scene times so the detector sees changing content.
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
from edge_agent.core.frames import Frame
from edge_agent.detectors import create_detector

SIZES = ((640, 480), (1280, 720))
CONFIGS = {
    "centerface x1.0": CenterFaceConfig(type="centerface", input_scale=1.0),
    "centerface x0.5": CenterFaceConfig(type="centerface", input_scale=0.5),
    "centerface x2.0": CenterFaceConfig(type="centerface", input_scale=2.0),
    "blazeface full": BlazeFaceConfig(type="blazeface", range="full"),
    "blazeface short": BlazeFaceConfig(type="blazeface", range="short"),
}


def scene_frames(width: int, height: int, n: int = 8) -> list[np.ndarray]:
    from edge_agent.sources.demo import DemoScene

    scene = DemoScene(width, height)
    return [scene.render(4.0 + 0.7 * i) for i in range(n)]


def time_detector(det, frames: list[np.ndarray], repeat: int) -> dict[str, float]:
    """Wall ms per frame (median, p90) and CPU ms per frame (process time: what one idle core would take,
    less sensitive than wall time to other processes sharing the machine)."""
    det.detect(frames[0])  # warm-up (network planning)
    ts = []
    c0 = time.process_time()
    for i in range(repeat):
        frame = frames[i % len(frames)]
        t = time.perf_counter()
        det.detect(frame)
        ts.append((time.perf_counter() - t) * 1000.0)
    cpu = (time.process_time() - c0) * 1000.0 / repeat
    ts.sort()
    return {"median_ms": round(statistics.median(ts), 1), "p90_ms": round(ts[int(0.9 * (len(ts) - 1))], 1),
            "cpu_ms": round(cpu, 1), "fps": round(1000.0 / statistics.median(ts), 1),
            "fps_cpu": round(1000.0 / cpu, 1)}


def recall(det, data: Path, limit: int) -> dict[str, float]:
    """Face recall as ``maskwatch eval`` computes it (edge_agent.evaluation), and ms per image."""
    from edge_agent.evaluation.data import read_image, read_voc
    from edge_agent.evaluation.metrics import ImageDetections, face_recall

    images, ms = [], []
    for s in read_voc(data, limit):
        img = read_image(s.image)
        t = time.perf_counter()
        faces = det.detect(img)
        ms.append((time.perf_counter() - t) * 1000.0)
        images.append(ImageDetections(s.boxes, s.labels, faces.xyxy, ["face"] * len(faces), faces.score))
    return {"recall_iou30": round(face_recall(images, 0.3), 3), "recall_iou50": round(face_recall(images, 0.5), 3),
            "faces": sum(len(s.gt_boxes) for s in images), "mean_ms": round(statistics.mean(ms), 1)}


def stream(name: str, seconds: float, fps: float) -> dict[str, float]:
    """Whole pipeline over a 720p demo stream: ms per frame, fps, face recall and verdicts vs the truth."""
    from edge_agent.core.detections import iou_matrix
    from edge_agent.core.tracking import greedy_match
    from edge_agent.pipeline import FramePipeline
    from edge_agent.sources.demo import DemoScene

    scene = DemoScene(1280, 720)
    pipe = FramePipeline(Config(detector=CONFIGS[name]))
    ts, total, found, right = [], 0, 0, 0
    cpu = 0.0
    for i in range(int(seconds * fps)):
        t_scene = 2.0 + i / fps
        frame = scene.render(t_scene)
        truth = scene.people_at(t_scene)
        t, c = time.perf_counter(), time.process_time()
        r = pipe.process(Frame(frame, t_scene))
        ts.append((time.perf_counter() - t) * 1000.0)
        cpu += (time.process_time() - c) * 1000.0 if i else 0.0
        gt = np.array([p.box for p in truth], np.float32).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(gt, r.faces.xyxy), 0.3)
        total += len(gt)
        found += len(pairs)
        right += sum(pipe.labels[int(r.faces.class_id[c])] == truth[g].label for g, c in pairs)
    med = statistics.median(ts[1:])
    cpu /= max(len(ts) - 1, 1)
    return {"median_ms": round(med, 1), "fps": round(1000.0 / med, 1), "cpu_ms": round(cpu, 1),
            "fps_cpu": round(1000.0 / cpu, 1), "faces": total,
            "recall_iou30": round(found / max(total, 1), 3), "label_acc": round(right / max(found, 1), 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=list(CONFIGS), help="detector settings to run (default: all)")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--pipeline", action="store_true", help="also time detect + classify with the packaged model")
    p.add_argument("--stream", action="store_true", help="pipeline over a 720p demo stream (needs the model)")
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
            row = {"detector": name, "frame": f"{w}x{h}", **time_detector(det, scene_frames(w, h), args.repeat)}
            rows.append(row)
        if args.recall:
            rows.append({"detector": name, "frame": f"recall {args.recall.name}[:{args.limit}]",
                         **recall(det, args.recall, args.limit)})
    if args.pipeline:
        from edge_agent.pipeline import FramePipeline

        for name in args.only or ["centerface x0.5", "centerface x1.0"]:
            pipe = FramePipeline(Config(detector=CONFIGS[name]))
            for w, h in SIZES:
                rows.append({"detector": f"pipeline {name}", "frame": f"{w}x{h}",
                             **time_detector(_Proc(pipe), scene_frames(w, h), args.repeat)})
    if args.stream:
        for name in args.only or ["centerface x0.5", "centerface x1.0"]:
            rows.append({"detector": f"stream {name}", "frame": "1280x720 demo, 10 s at 5 fps",
                         **stream(name, 10.0, 5.0)})
    load = round(__import__("os").getloadavg()[0], 2)
    if args.json:
        print(json.dumps({"threads": args.threads, "load_average_1m": load, "results": rows}))
    else:
        print(f"OpenCV threads {args.threads}; 1-minute load average at the end {load} (wall times suffer when the "
              "machine is busy; cpu_ms does not)")
        keys = [k for k in ("median_ms", "p90_ms", "cpu_ms", "fps", "fps_cpu", "faces", "recall_iou30", "recall_iou50",
                            "label_acc", "mean_ms") if any(k in r for r in rows)]
        print(f"{'detector':28} {'frame':30} " + " ".join(f"{k:>12}" for k in keys))
        for r in rows:
            print(f"{r['detector']:28} {r['frame']:30} " + " ".join(f"{r.get(k, ''):>12}" for k in keys))
    return 0


class _Proc:
    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.t = 0.0

    def detect(self, frame: np.ndarray):
        self.t += 0.2
        return self.pipe.process(Frame(frame, self.t))


if __name__ == "__main__":
    raise SystemExit(main())
