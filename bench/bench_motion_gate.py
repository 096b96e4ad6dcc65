"""The analysis path's CPU cost per frame with motion-gated detection off and on, in-process (no capture).

    python bench/bench_motion_gate.py [--seconds 30] [--fps 5] [--width 1280 --height 720] [--json]

Runs ``FramePipeline`` (the real CenterFace with config.yaml's detector settings and the shipped int8
classifier) over generated 720p scenes at ``--fps``: an empty corridor (an idle camera) and people walking
through; gate off, gate on with whole-frame detection, gate on with motion regions (the default). Prints
CPU ms per analysed frame (process time), the share of frames the detector ran on, and what
that is per camera at ``--fps`` as a percentage of one core (decoding the stream not included: see
bench_agent.py for the whole agent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from edge_agent.config import CameraConfig, parse_config  # noqa: E402
from edge_agent.core.frames import Frame  # noqa: E402
from edge_agent.pipeline import FramePipeline  # noqa: E402
from edge_agent.sources.demo import DemoScene  # noqa: E402


def measure(config, detector, classifier, frames, fps: float, gate: bool,  # noqa: ANN001
            regions: bool = True) -> dict[str, float]:
    camera = CameraConfig.model_validate({"name": "b", "source": {"type": "demo"}, "detect_fps": fps,
                                          "motion": {"enabled": gate, "regions": regions}})
    pipe = FramePipeline(config, camera, detector=detector, classifier=classifier)
    pipe.process(Frame(frames[0], -1.0 / fps))  # warm-up
    c0, w0 = time.process_time(), time.perf_counter()
    for i, frame in enumerate(frames):
        pipe.process(Frame(frame, i / fps))
    cpu_ms = (time.process_time() - c0) * 1000.0 / len(frames)
    ran = 1.0 if pipe.gate is None else pipe.gate.detected / max(pipe.gate.detected + pipe.gate.skipped, 1)
    return {"cpu_ms_per_frame": round(cpu_ms, 2), "wall_ms_per_frame": round((time.perf_counter() - w0) * 1000.0 / len(frames), 2),
            "detector_ran": round(ran, 3), "percent_of_a_core_at_fps": round(cpu_ms * fps / 10.0, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from edge_agent.classifier import Classifier
    from edge_agent.detectors import create_detector

    config = parse_config({"detector": yaml.safe_load((ROOT / "config.yaml").read_text())["detector"]})
    detector = create_detector(config.detector)
    classifier = Classifier(config.classifier.model_card)
    scene = DemoScene(args.width, args.height, speed_px_s=args.width / 12.0)
    n = int(args.seconds * args.fps)
    scenes = {"idle (nobody)": [scene.render(-1e6)] * n,
              "people walking": [scene.render(i / args.fps) for i in range(n)]}
    rows = []
    for name, frames in scenes.items():
        for gate, regions in ((False, False), (True, False), (True, True)):
            rows.append({"scene": name, "gate": gate, "regions": regions,
                         **measure(config, detector, classifier, frames, args.fps, gate, regions)})
    out = {"benchmark": "motion_gate", "frame": f"{args.width}x{args.height}", "fps": args.fps, "frames": n,
           "detector": dict(config.detector.model_dump(mode="json")), "load_avg_1m": round(os.getloadavg()[0], 2),
           "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"analysis path, {out['frame']} at {args.fps:g} fps, {n} frames per case, load {out['load_avg_1m']}")
    print(f"{'scene':>16} {'gate':>4} {'regions':>7} | {'CPU ms/frame':>12} {'wall ms':>8} {'detector ran':>12} {'% core/camera':>13}")
    for r in rows:
        print(f"{r['scene']:>16} {'on' if r['gate'] else 'off':>4} {'on' if r['regions'] else 'off':>7} | "
              f"{r['cpu_ms_per_frame']:>12} "
              f"{r['wall_ms_per_frame']:>8} {r['detector_ran']:>12.0%} {r['percent_of_a_core_at_fps']:>13}")


if __name__ == "__main__":
    main()
