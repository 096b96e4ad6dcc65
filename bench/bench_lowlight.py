"""CPU cost of low-light handling per frame: the detector stage (``FaceAnalyzer.detect``) on a bright and on a
dark frame, with low light off, on with one pass (``raw_pass: false``) and on with both passes (the default).

    python bench/bench_lowlight.py [--size 640x360] [--frames 30] [--input-scale 1.0]

The frame is the demo scene (edge_agent.sources.demo) and its darkened copy (edge_agent.sources.walks.darken,
the bench recipe); OpenCV runs on one thread. Prints the median milliseconds per frame of each setting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import cv2

from edge_agent.config import parse_config
from edge_agent.pipeline import FaceAnalyzer
from edge_agent.sources.demo import DemoScene
from edge_agent.sources.walks import darken

SETTINGS = {"off": {"enabled": False}, "one pass": {"raw_pass": False}, "two passes (default)": {}}


def median_ms(analyzer: FaceAnalyzer, frame: object, n: int) -> float:
    analyzer.detect(frame)  # type: ignore[arg-type]  # warm-up: the net is planned for this size
    times = []
    for _ in range(n):
        t = time.perf_counter()
        analyzer.detect(frame)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t) * 1000.0)
    return round(statistics.median(times), 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="640x360")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--input-scale", type=float, default=1.0)
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    cv2.setNumThreads(1)
    bright = DemoScene(w, h).render(6.0)
    dark = darken(bright, seed=1)
    out = {}
    for name, ll in SETTINGS.items():
        cfg = parse_config({"detector": {"type": "centerface", "input_scale": a.input_scale}, "low_light": ll})
        fa = FaceAnalyzer(cfg)
        out[name] = {"bright_ms": median_ms(fa, bright, a.frames), "dark_ms": median_ms(fa, dark, a.frames)}
    print(json.dumps({"size": a.size, "input_scale": a.input_scale, **out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
