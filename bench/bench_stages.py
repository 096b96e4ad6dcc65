"""Milliseconds per stage of one camera's path at 720p, in-process: RTSP grab (FFmpeg decode), retrieve
(conversion to a new BGR array), motion check, detector on the whole frame and on the motion regions,
classifier, tracker.

    python bench/bench_stages.py [--frames 60] [--json]

A real GStreamer RTSP server sends the demo scene (people walking) as 1280x720 H.264 at 5 fps; OpenCV's
FFmpeg backend reads it with one decoding thread as the agent does. The detector is config.yaml's
(CenterFace, input_scale 0.5), one OpenCV thread, so CPU and wall time agree on an idle core. CPU ms are the
calling thread's CPU time; on a shared machine the wall ms include waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_harness import ROOT, rtsp, shipped_detector  # noqa: E402


class Timer:
    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.wall: dict[str, list[float]] = {}

    def __call__(self, name: str, fn: Any, *a: Any, **kw: Any) -> Any:
        c0, w0 = time.thread_time(), time.perf_counter()
        out = fn(*a, **kw)
        self.cpu.setdefault(name, []).append((time.thread_time() - c0) * 1000.0)
        self.wall.setdefault(name, []).append((time.perf_counter() - w0) * 1000.0)
        return out

    def rows(self) -> list[dict[str, Any]]:
        return [{"stage": k, "n": len(v), "cpu_ms": round(sum(v) / len(v), 2),
                 "wall_ms": round(sum(self.wall[k]) / len(v), 2)} for k, v in self.cpu.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import cv2
    import numpy as np

    from edge_agent.classifier import Classifier
    from edge_agent.config import CameraConfig, parse_config
    from edge_agent.core.tracking import Tracker, TrackerParams
    from edge_agent.detectors import create_detector
    from edge_agent.motion import MotionGate
    from edge_agent.regions import plan_regions
    from edge_agent.sources.opencv import grab_frame, open_capture, retrieve_frame

    cv2.setNumThreads(1)
    config = parse_config({"detector": shipped_detector()})
    detector = create_detector(config.detector)
    classifier = Classifier(config.classifier.model_card)
    camera = CameraConfig.model_validate({"name": "c", "source": {"type": "demo"}})
    t = config.tracker
    tracker = Tracker(TrackerParams(t.iou_threshold, t.max_age_s, t.votes, t.window, t.min_confidence,
                                    t.max_distance, t.unseen_max_age_s), classifier.labels, reference_fps=5)
    gate = MotionGate(camera.motion)
    timer = Timer()
    areas = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        frames = rtsp.render_frames(Path(tmp) / "f", seconds=8, fps=5, width=1280, height=720)
        server = rtsp.RtspServer(frames, fps=5).start()
        try:
            cap = open_capture(server.url, cv2.CAP_FFMPEG, 10, 5, "rtsp_transport;tcp")
            detector.detect(np.zeros((720, 1280, 3), np.uint8))  # plan the net
            for i in range(args.frames + 3):
                stamp = timer("1 grab: receive + H.264 decode (wall includes waiting for the 5 fps stream)",
                              grab_frame, cap, "rtsp")
                frame = timer("2 retrieve: decoded frame -> new BGR array", retrieve_frame, cap, i, stamp, "rtsp")
                img = frame.image
                timer("3 motion check (160 px grey)", gate.should_detect, img, i / 5, True)
                full = timer("4 detector, whole frame (1280x720 -> 640x384)", detector.detect, img)
                boxes = list(gate.motion.boxes) if gate.motion is not None else []
                boxes += [tr.box for tr in tracker.tracks.values()]
                regions = plan_regions(boxes, 1280, 720, camera.motion.region_margin, camera.motion.region_max_area)
                areas.append(1.0 if regions is None else sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions) / (1280 * 720))
                if regions is not None:
                    timer("5 detector, motion regions only (when they cover <= region_max_area)",
                          detector.detect_regions, img, regions)
                from edge_agent.core.crop import crop_faces
                from edge_agent.imaging import resize_square

                crops = timer("6 face crops", crop_faces, img, full.xyxy, classifier.crop, resize_square)
                probs = timer("7 classifier (all faces, one batch)", classifier.predict_proba, crops)
                ids = probs.argmax(axis=1).astype(np.int32) if len(probs) else np.empty(0, np.int32)
                faces = full.with_classes(ids, probs[np.arange(len(probs)), ids])
                timer("8 tracker", tracker.update, faces, i / 5)
                if i == 2:  # drop the warm-up frames
                    timer.cpu.clear()
                    timer.wall.clear()
                    areas.clear()
            cap.release()
        finally:
            server.stop()
    out = {"benchmark": "stages", "frame": "1280x720", "frames": args.frames, "load_avg_1m": round(os.getloadavg()[0], 2),
           "regions_share_of_frames": round(sum(a < 1.0 for a in areas) / max(len(areas), 1), 3),
           "regions_mean_area_when_used": round(float(np.mean([a for a in areas if a < 1.0] or [1.0])), 3),
           "rows": timer.rows(), "root": str(ROOT)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"per-stage ms, 1 camera 1280x720 demo scene with people, {args.frames} frames, 1 OpenCV thread, "
          f"load {out['load_avg_1m']}")
    for r in out["rows"]:
        print(f"  {r['stage']:<78} CPU {r['cpu_ms']:7.2f} ms  wall {r['wall_ms']:7.2f} ms  (n={r['n']})")
    print(f"  motion regions used on {out['regions_share_of_frames']:.0%} of frames, covering "
          f"{out['regions_mean_area_when_used']:.0%} of the frame on average when used")


if __name__ == "__main__":
    main()
