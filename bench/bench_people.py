"""Per-person video metric on the scripted walks scene (edge_agent.sources.walks): people walk in from the
edges, pause, turn round, pass each other, in bright and then dim light; every person's track and verdict
is known. The agent's own pipeline (CenterFace as the demo runs it at 640x360, the packaged int8 classifier,
the tracker) runs on every analysed frame in scene time (no clock, no camera), then
``edge_agent.evaluation.people.score_people`` scores it with motmetrics.

    python bench/bench_people.py                    # 24 people, 5 analysed frames/s, prints the figures
    python bench/bench_people.py --people 48 --seed 1 --json out.json --truth truth.json

Goal (issue 17): >= 98% of people get exactly one decision with the right verdict; <= 1.05 decisions
per person.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_agent.config import parse_config
from edge_agent.core.frames import Frame
from edge_agent.evaluation.people import TrackedFrame, score_people
from edge_agent.pipeline import FramePipeline
from edge_agent.sources.walks import WalkScene


def run(people: int, seed: int, fps: float, config: dict | None = None) -> tuple[dict, dict]:
    scene = WalkScene(people=people, seed=seed)
    truth = scene.ground_truth(fps)
    cfg = parse_config(config or {"cameras": [{"name": "walks", "source": {"type": "demo"}, "width": 640,
                                               "height": 360}]})
    pipe = FramePipeline(cfg, cfg.cameras[0])
    frames, decisions = [], []
    t0 = time.perf_counter()
    n = int(scene.duration * fps)
    for i in range(n):
        t = i / fps
        r = pipe.process(Frame(scene.render(t), t))
        frames.append(TrackedFrame(t, r.track_ids, tuple(tuple(b) for b in r.faces.xyxy.tolist())))
        decisions += [(d.track_id, d.verdict) for d in r.decisions]
    wall = time.perf_counter() - t0
    score = score_people(truth, frames, decisions)
    out = score.as_dict()
    by_light: dict[str, list[int]] = {"bright": [0, 0], "dim": [0, 0]}
    for p in truth["people"]:
        if not p["frames"]:
            continue
        k = "dim" if p["dim"] else "bright"
        by_light[k][0] += 1
        by_light[k][1] += score.per_person.get(p["person"], []) == [p["label"]]
    out.update({"frames": n, "fps": fps, "seed": seed, "seconds": round(wall, 1),
                "exactly_one_right_by_light": {k: f"{r}/{m}" for k, (m, r) in by_light.items()},
                "wrong_or_missed": {pid: v for pid, v in score.per_person.items()
                                    if v != [next(p["label"] for p in truth["people"] if p["person"] == pid)]}})
    return out, truth


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=5.0, help="analysed frames per second (the demo's detect_fps)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--truth", type=Path, help="write each person's ground-truth track and verdict here")
    a = p.parse_args()
    out, truth = run(a.people, a.seed, a.fps)
    if a.truth:
        a.truth.write_text(json.dumps(truth))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
