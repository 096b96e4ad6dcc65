"""Notification latency: deciding frame's capture time -> a webhook receiver on loopback, p50/p95.

    python bench/bench_notify.py                      # 20 notifications, 720p demo camera, default detector
    python bench/bench_notify.py --events 40 --json out.json
    python bench/bench_notify.py --scripted --events 40    # steady violations, scripted analysis

Everything real and separate, as deployed: ``maskwatch agent`` (demo camera, config.yaml's detector + the
packaged int8 classifier) -> mosquitto -> ``maskwatch dashboard ingest`` with notifications on (one json://
channel, cool-down 0 so every event is sent) -> apprise -> an HTTP server in this process that stamps each
POST on arrival. The event's ``time`` is the capture time of the frame that decided the verdict (same
machine, same clock); the link in each message names the event, whose row gives that time and the ingest's
``received_at``, splitting the total into "capture -> stored" and "stored -> webhook" (the notifier's part:
the snapshot lookup, apprise and the HTTP POST).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_harness import (  # noqa: E402
    AgentProcess,
    IngestProcess,
    latency_table,
    mosquitto,
    p95_target,
    segment,
    shipped_detector,
    stored_time,
    wait_for,
    write_agent_config,
    write_dashboard_config,
)
from helpers.stack import query  # noqa: E402
from helpers.webhook import Receiver  # noqa: E402

TARGET_P95_MS = 1000.0
LINK = re.compile(r"/events/([A-Za-z0-9_.-]+)")


def arrivals(rec: Receiver) -> dict[str, float]:
    """Event id -> wall-clock arrival of its first notification (the event link in each message names it)."""
    out: dict[str, float] = {}
    for req, t in zip(list(rec.requests), list(rec.wall_times), strict=False):
        m = LINK.search(str(req["json"].get("message", "")))
        if m:
            out.setdefault(m.group(1), t)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20, help="stop after this many notifications")
    p.add_argument("--timeout", type=float, default=240.0)
    p.add_argument("--detect-fps", type=float, default=5.0)
    p.add_argument("--scripted", action="store_true", help="the real agent runtime with scripted analysis "
                   "(tests/helpers/fake_agent_main.py: a steady stream of violations, little CPU) instead of the "
                   "demo scene through CenterFace")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    args = p.parse_args(argv)
    if not mosquitto.available():
        raise SystemExit("needs mosquitto (apt install mosquitto)")
    rec = Receiver()
    rows: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        work = Path(tmp)
        broker = mosquitto.Mosquitto(work / "broker", persistence=False).start()
        dash = write_dashboard_config(work / "dash", broker.port)
        cfg = yaml.safe_load(dash.read_text())
        cfg["notifications"] = {"enabled": True, "base_url": "http://bench",
                                "channels": {"hook": {"url": f"json://127.0.0.1:{rec.port}/hook"}},
                                "rules": [{"name": "every", "channels": ["hook"], "cooldown_s": 0}]}
        dash.write_text(yaml.safe_dump(cfg))
        ingest = IngestProcess(dash).start()
        cam = {"name": "lobby", "source": {"type": "demo", "fps": 15, "width": 1280, "height": 720},
               "detect_fps": args.detect_fps}
        extra: dict[str, Any] = {"tracker": {"max_age_s": 0.5}} if args.scripted else {}
        agent = AgentProcess(write_agent_config(work / "agent", broker.port, [cam], log_level="WARNING",
                                                detector=shipped_detector(), preview={"enabled": False}, **extra),
                             scripted=args.scripted)
        db = work / "dash" / "dashboard.sqlite3"
        try:
            wait_for(lambda: "subscribing" in ingest.output(), 60, what="ingest subscribed")
            agent.start()
            deadline = time.monotonic() + args.timeout
            while len(arrivals(rec)) < args.events and time.monotonic() < deadline:
                if not agent.alive or not ingest.alive:
                    raise RuntimeError(f"agent or ingest died:\n{agent.output()}\n{ingest.output()}")
                time.sleep(0.2)
            time.sleep(1.0)
            for eid, t, received in query(db, "SELECT event_id, time, received_at FROM events"):
                rows[eid] = (stored_time(t), stored_time(received))
        finally:
            agent.stop()
            ingest.stop()
            broker.stop()
            rec.close()
    got = {e: a for e, a in arrivals(rec).items() if e in rows}
    total = [(a - rows[e][0]) * 1000 for e, a in got.items()]
    stored = [(rows[e][1] - rows[e][0]) * 1000 for e in got]
    notify = [(a - rows[e][1]) * 1000 for e, a in got.items()]
    out = {
        "benchmark": "notify", "notifications": len(got), "events_stored": len(rows),
        "camera": "demo 1280x720@15" + (", scripted analysis" if args.scripted else ""), "detect_fps": args.detect_fps, "load_avg_1m": os.getloadavg()[0],
        "command": "python bench/bench_notify.py " + " ".join(argv or sys.argv[1:]),
        "capture_to_webhook_ms": segment(total, with_max=True), "capture_to_stored_ms": segment(stored),
        "stored_to_webhook_ms": segment(notify),
    }
    out["target_p95<1s"] = p95_target(out["capture_to_webhook_ms"], TARGET_P95_MS)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


def table(out: dict[str, Any]) -> str:
    return latency_table(f"notification latency over {out['notifications']} webhooks ({out['camera']}, load "
                         f"{out['load_avg_1m']:.1f})", out, ("capture_to_stored_ms", "stored_to_webhook_ms",
                                                             "capture_to_webhook_ms"), "target_p95<1s", "p95 < 1 s")


if __name__ == "__main__":
    print(table(main()))
