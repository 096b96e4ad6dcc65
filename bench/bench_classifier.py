"""Milliseconds per face of the int8 mask classifier, one interpreter thread, batch 1 and batch 8.

Usage: python bench/bench_classifier.py [--card edge_agent/models/model_card.json] [--seconds 3] [--json]
Uses the agent's own loader (edge_agent.classifier.Classifier), so the runtime is the one the agent picks.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.classifier import Classifier  # noqa: E402
from edge_agent.config import PACKAGED_MODEL  # noqa: E402


def bench(clf: Classifier, batch: int, seconds: float, rng: np.random.Generator) -> dict[str, float]:
    size = clf.card.input_size
    crops = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    for _ in range(20):  # warm up
        clf.predict_proba(crops)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 50:
        t = time.perf_counter()
        clf.predict_proba(crops)
        times.append(time.perf_counter() - t)
    per_call = np.array(times) * 1000
    return {
        "batch": batch,
        "calls": len(times),
        "ms_per_call_median": round(float(np.median(per_call)), 4),
        "ms_per_face_median": round(float(np.median(per_call)) / batch, 4),
        "ms_per_face_p90": round(float(np.percentile(per_call, 90)) / batch, 4),
        "ms_per_face_mean": round(statistics.fmean(per_call) / batch, 4),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--card", type=Path, default=PACKAGED_MODEL)
    p.add_argument("--seconds", type=float, default=3.0, help="timing per batch size")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args()
    clf = Classifier(args.card, threads=args.threads)
    rng = np.random.default_rng(0)
    model_file = args.card.parent / clf.card.model_file
    result = {
        "model": str(model_file),
        "model_bytes": model_file.stat().st_size,
        "input_size": clf.card.input_size,
        "threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "results": [bench(clf, b, args.seconds, rng) for b in (1, 8)],
    }
    if not args.json:
        print(f"model {result['model']} ({result['model_bytes']:,} bytes), input {result['input_size']}px, "
              f"{args.threads} thread(s)")
        print(f"{'batch':>5} {'calls':>7} {'ms/call':>9} {'ms/face':>9} {'p90 ms/face':>12}")
        for r in result["results"]:
            print(f"{r['batch']:>5} {r['calls']:>7} {r['ms_per_call_median']:>9.3f} {r['ms_per_face_median']:>9.3f} "
                  f"{r['ms_per_face_p90']:>12.3f}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
