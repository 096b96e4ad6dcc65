#!/usr/bin/env bash
# Every figure docs/performance.md's issue-14 section needs, in one run (about 4-5 minutes on a quiet 2-core
# machine; run it on a quiet machine: the figures are CPU and frame rates).
#
#   bash bench/issue14_figures.sh [OUT_DIR]
#
# Prints labelled lines (FIGURE <name>: <value>) and leaves the JSON of each benchmark in OUT_DIR
# (default: a temporary folder, printed at the end). Needs mosquitto and the GStreamer RTSP server packages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${1:-$(mktemp -d -t issue14-figures-XXXX)}
mkdir -p "$OUT"
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
export MALLOC_ARENA_MAX=2  # as the systemd unit
SECONDS_PER_CASE=${SECONDS_PER_CASE:-12}
start=$(date +%s)
echo "issue 14 figures: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

"$PY" bench/bench_stages.py --frames 40 --json > "$OUT/stages.json" 2> "$OUT/stages.log"
"$PY" bench/bench_agent.py --preset issue14 --seconds "$SECONDS_PER_CASE" --json "$OUT/agent.json" \
    > "$OUT/agent.txt" 2> "$OUT/agent.log"

"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
stages = json.loads((out / "stages.json").read_text())
agent = json.loads((out / "agent.json").read_text())
def fig(name, value):
    print(f"FIGURE {name}: {value}")
print(f"-- per stage, 1 x 1280x720, people in view, one OpenCV thread (load {stages['load_avg_1m']})")
for r in stages["rows"]:
    fig(f"stage ms | {r['stage']}", f"CPU {r['cpu_ms']} ms, wall {r['wall_ms']} ms (n={r['n']})")
fig("motion regions used on share of frames", f"{stages['regions_share_of_frames']:.0%}, "
    f"mean {stages['regions_mean_area_when_used']:.0%} of the frame")
print("-- whole agent (maskwatch agent, real RTSP 1280x720 H.264, real mosquitto, detect_fps 5, MALLOC_ARENA_MAX=2)")
for r in agent["results"]:
    fig(r["label"], f"{r['fps_total']} fps analysed ({'/'.join(f'{v:g}' for v in r['fps_per_camera'].values())}), "
        f"{r['dropped_per_s']} dropped/s, {r['skipped_per_s']} grabbed-not-retrieved/s, "
        f"{r['cpu_ms_per_frame']} CPU ms per analysed frame, {r['cpu_percent_per_camera']}% of a core per camera, "
        f"RSS max {r['rss_mb_max']} MB, load {r['load_avg_1m_at_start']}")
for name, t in agent["targets"].items():
    fig(f"target {name}", f"{t['value']} -> {'met' if t['met'] else 'MISSED'}")
by = {r["label"]: r for r in agent["results"]}
after = next(r for r in agent["results"] if r["label"].startswith("1 cam people 15->5 fps AFTER"))
idle = next(r for r in agent["results"] if r["label"].startswith("1 cam idle"))
print("-- Raspberry Pi estimate (NOT measured): this machine's CPU ms scaled by 6-10x (Pi 4, Cortex-A72) and "
      "2.5-4x (Pi 5, Cortex-A76) per core, 4 cores each")
ms = after["cpu_ms_per_frame"]
for board, lo, hi in (("Pi 4", 6, 10), ("Pi 5", 2.5, 4)):
    fig(f"{board} estimate, CPU ms per analysed frame with people", f"{ms * lo:.0f}-{ms * hi:.0f} ms "
        f"-> {4000 / (ms * hi):.1f}-{4000 / (ms * lo):.1f} analysed frames/s on 4 cores")
    fig(f"{board} estimate, idle camera at 5 fps", f"{idle['cpu_percent_per_camera'] * lo:.0f}-"
        f"{idle['cpu_percent_per_camera'] * hi:.0f}% of a core")
PYEOF
echo "JSON in $OUT; took $(( $(date +%s) - start )) s"
