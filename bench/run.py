"""Run every MaskWatch benchmark: one JSON file with all results, and a readable table of the key figures.

    python bench/run.py                          # everything, full size (about 15-25 min on 2 busy cores)
    python bench/run.py --quick                  # smaller runs (about 5-8 min): for a quick look, not for docs
    python bench/run.py --only agent latency     # some of them
    python bench/run.py --out bench-results.json # where the JSON goes (default: bench-results.json)
    python bench/run.py --table-from bench-results.json   # print the table of an earlier run

Each benchmark is its own script in bench/ (run alone for more options) and runs here as a subprocess, so
one's threads and memory do not disturb the next:

  classifier  bench_classifier.py  ms per face, int8, one thread, batch 1 and 8
  detector    bench_detector.py    ms per frame at 640x480 and 1280x720, one core (+ 720p stream pipeline)
  agent       bench_agent.py       whole agent: 1/2/4 RTSP cameras, 1 camera on one core, CPU, RSS, drops
  latency     bench_latency.py     capture -> dashboard database row, p50/p95, real mosquitto + ingest
  dashboard   bench_dashboard.py   ingest events/s; page times over 1,000,000 stored events
  outbox      bench_outbox.py      agent outbox store rate and backlog drain rate to mosquitto
  prevgen     bench_prevgen.py     previous generation (MobileNetV2 224 float, SSD) vs ours, speed ratio

The machine's load average is recorded with every result: on a shared machine wall-clock figures suffer;
CPU-time figures (``cpu_ms``, ``cpu_ms_per_frame``) much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _args(quick: bool, tmp: Path, name: str) -> tuple[list[str], Path | None]:
    """Command line of one benchmark; the second item is the JSON file it writes (None: JSON on stdout)."""
    out = tmp / f"{name}.json"
    table: dict[str, tuple[list[str], Path | None]] = {
        "classifier": (["bench_classifier.py", "--json", "--seconds", "1" if quick else "3"], None),
        "detector": (["bench_detector.py", "--json", "--only", "centerface x0.5", "centerface x1.0",
                      "blazeface full", "--repeat", "5" if quick else "20", *([] if quick else ["--stream"])], None),
        "agent": (["bench_agent.py", "--seconds", "10" if quick else "20", "--json", str(out)], out),
        "latency": (["bench_latency.py", "--events", "15" if quick else "30", "--timeout", "150" if quick else "240",
                     "--json", str(out)], out),
        "dashboard": (["bench_dashboard.py", *(["--events", "100000", "--ingest", "5000"] if quick else [])], None),
        "outbox": (["bench_outbox.py", *(["--messages", "2000"] if quick else [])], None),
        "prevgen": (["bench_prevgen.py", "--seconds", "1" if quick else "3", "--json", str(out)], out),
        "cameras4": (["bench_agent.py", "--preset", "cameras4", "--seconds", "10" if quick else "20", "--json",
                      str(out)], out),
        "motion_gate": (["bench_motion_gate.py", "--json", "--seconds", "10" if quick else "30"], None),
        "centerface_runtime": (["bench_centerface_runtime.py", "--json", "--repeat", "5" if quick else "30"], None),
        "stages": (["bench_stages.py", "--json", "--frames", "20" if quick else "60"], None),
    }
    return table[name]


BENCHMARKS = ("classifier", "detector", "agent", "latency", "dashboard", "outbox", "prevgen", "cameras4", "motion_gate",
              "centerface_runtime", "stages")


def first_json(text: str) -> Any:
    """The first JSON object printed on stdout (some scripts print a table after it)."""
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                return dec.raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise ValueError("no JSON object in the output")


def run_one(name: str, quick: bool, tmp: Path, timeout: float) -> dict[str, Any]:
    args, out = _args(quick, tmp, name)
    cmd = [sys.executable, str(HERE / args[0]), *args[1:]]
    shown = "python bench/" + " ".join(a if " " not in a else f'"{a}"' for a in args)
    print(f"== {name}: {shown}", file=sys.stderr, flush=True)
    t0, load0 = time.monotonic(), os.getloadavg()[0]
    try:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": shown, "error": f"timed out after {timeout:.0f} s"}
    record: dict[str, Any] = {"command": shown, "seconds": round(time.monotonic() - t0, 1),
                              "load_avg_1m_at_start": round(load0, 2)}
    if r.returncode != 0:
        record["error"] = f"exit {r.returncode}: {(r.stderr or r.stdout)[-1500:]}"
        return record
    try:
        record["result"] = json.loads(out.read_text()) if out is not None else first_json(r.stdout)
    except (OSError, ValueError) as err:
        record["error"] = f"no result ({err}): {r.stdout[-800:]} {r.stderr[-800:]}"
    return record


# ------------------------------------------------------------------ the table
def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if d is None:
            return None
        if isinstance(p, int):
            d = d[p] if isinstance(d, list) and len(d) > p else None
        else:
            d = d.get(p) if isinstance(d, dict) else None
    return d


def rows(results: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(figure, value, target) for the table."""
    out: list[tuple[str, Any, str]] = []
    c = _get(results, "classifier", "result", "results")
    for r in c or []:
        out.append((f"classifier ms/face, int8, 1 thread, batch {r['batch']}", r["ms_per_face_median"], "<= 1 ms"))
    for r in _get(results, "detector", "result", "results") or []:
        extra = f" (CPU {r['cpu_ms']} ms)" if "cpu_ms" in r else ""
        value = f"{r.get('median_ms')}{extra}" if "median_ms" in r else r
        if str(r.get("detector", "")).startswith("stream"):
            value = f"{r.get('fps')} fps wall, {r.get('fps_cpu', '?')} fps on CPU time; recall {r.get('recall_iou30')}"
        out.append((f"detector {r['detector']} {r['frame']} ms/frame", value, ""))
    for r in _get(results, "agent", "result", "results") or []:
        where = "1 core (taskset -c 0)" if r["cpus"] == "0" else f"{r['cpus']} cores"
        target = ">= 10 fps" if r["cpus"] == "0" else ("RSS <= 250 MB" if r["cameras"] == 2 else "")
        out.append((f"agent {r['cameras']} x 720p RTSP, {where}, detector {r['detector_input']}",
                    f"{r['fps_total']} fps ({r['dropped_per_s']} dropped/s), CPU {r['cpu_percent']}% = "
                    f"{r['cpu_ms_per_frame']} ms/frame -> {r['fps_per_dedicated_core']} fps/core, RSS {r['rss_mb_max']} MB",
                    target))
    lat = _get(results, "latency", "result")
    if lat:
        out.append((f"alert latency capture -> DB row ({lat['events']} events)",
                    f"p50 {lat['capture_to_db_row_ms']['p50']} ms, p95 {lat['capture_to_db_row_ms']['p95']} ms "
                    f"(agent part p95 {lat['capture_to_broker_ms']['p95']}, dashboard part p95 "
                    f"{lat['broker_to_db_row_ms']['p95']})", "p95 < 250 ms"))
    d = _get(results, "dashboard", "result")
    if d:
        out.append(("dashboard ingest core, events/s", _get(d, "ingest_core", "events_per_s"), ">= 1000"))
        if _get(d, "ingest_mqtt"):
            out.append(("dashboard ingest via mosquitto QoS 1, events/s", _get(d, "ingest_mqtt", "events_per_s"),
                        ">= 1000"))
        n = _get(d, "database", "events")
        for p in _get(d, "pages") or []:
            target = "< 500 ms" if str(p["page"]).startswith("statistics") else ""
            out.append((f"page {p['page']} over {n} events, median ms", p["median_ms"], target))
    o = _get(results, "outbox", "result")
    if o:
        out.append(("agent outbox: durable puts/s, backlog drain msgs/s", f"{o.get('put_per_s')}, {o.get('drain_per_s')}",
                    ""))
    pg = _get(results, "prevgen", "result")
    if pg:
        prev = pg["classifier_ms_per_face"]
        out.append(("previous gen. classifier (MobileNetV2 224 float, random init) ms/face",
                    list(prev.values())[1], ""))
        out.append(("speed ratio previous / ours, classifier per face", pg["classifier_speed_ratio"], ""))
        out.append(("previous gen. SSD res10 face detector", pg["detector_note"] or
                    pg["detector_ms_per_720p_frame"], ""))
    for r in _get(results, "cameras4", "result", "results") or []:
        out.append((f"agent {r['cameras']} x 720p@5 RTSP, {r['scene']}, gate {'on' if r['motion_gate'] else 'off'}",
                    f"{r['fps_total']} fps ({r['dropped_per_s']} dropped/s), {r['cpu_percent_per_camera']}% CPU/camera, "
                    f"{r['cpu_ms_per_frame']} ms/frame, RSS {r['rss_mb_max']} MB",
                    "4 cams: 20 fps, 0 dropped, RSS <= 250" if r["cameras"] == 4 and r["scene"] == "people" else
                    ("<= 5% per camera" if r["scene"] == "empty" and r["motion_gate"] else "")))
    for r in _get(results, "motion_gate", "result", "rows") or []:
        out.append((f"analysis path 720p@5, {r['scene']}, gate {'on' if r['gate'] else 'off'}"
                    f"{', regions' if r.get('regions') else ''}",
                    f"{r['cpu_ms_per_frame']} CPU ms/frame, detector on {r['detector_ran']:.0%}, "
                    f"{r['percent_of_a_core_at_fps']}% of a core", ""))
    for r in _get(results, "centerface_runtime", "result", "rows") or []:
        out.append((f"CenterFace {r['frame']} x{r['input_scale']}: OpenCV / onnxruntime CPU ms",
                    f"{r['opencv_cpu_ms']} / {r['onnxruntime_cpu_ms']} (max diff {r['max_output_diff']})", ""))
    for r in _get(results, "stages", "result", "rows") or []:
        out.append((f"720p stage: {r['stage']}", f"{r['cpu_ms']} CPU ms ({r['wall_ms']} wall)", ""))
    for name, rec in results.items():
        if isinstance(rec, dict) and "error" in rec:
            out.append((f"{name}: FAILED", rec["error"].splitlines()[0][:100], ""))
    return out


def table(doc: dict[str, Any]) -> str:
    lines = [f"MaskWatch benchmarks {doc['started']} on {doc['machine']} (load avg at start {doc['load_avg_1m']})",
             f"{'figure':78} {'value':60} target"]
    for fig, value, target in rows(doc["benchmarks"]):
        lines.append(f"{fig:78} {value!s:60} {target}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run only these")
    p.add_argument("--quick", action="store_true", help="smaller runs (not for published figures)")
    p.add_argument("--out", type=Path, default=Path("bench-results.json"))
    p.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    p.add_argument("--table-from", type=Path, help="print the table of an earlier JSON file and exit")
    args = p.parse_args()
    if args.table_from:
        print(table(json.loads(args.table_from.read_text())))
        return 0
    doc: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_avg_1m": round(os.getloadavg()[0], 2), "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
        "benchmarks": {},
    }
    with tempfile.TemporaryDirectory(prefix="mw-bench-run-") as tmp:
        for name in args.only or BENCHMARKS:
            doc["benchmarks"][name] = run_one(name, args.quick, Path(tmp), args.timeout)
            args.out.write_text(json.dumps(doc, indent=2))  # partial results survive an interruption
    print(table(doc))
    print(f"\nJSON: {args.out}")
    return 1 if any("error" in r for r in doc["benchmarks"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
