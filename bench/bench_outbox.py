"""Durable outbox figures: store rate, and how fast a backlog drains to a real mosquitto after an outage.

    .venv/bin/python bench/bench_outbox.py [--messages 5000] [--size 600]

Prints one JSON object: put_per_s (durable inserts of event-sized payloads), drain_per_s (PUBACKed
messages per second from a stored backlog to a loopback mosquitto), both on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from helpers.mosquitto import Mosquitto  # noqa: E402
from helpers.net import wait_for  # noqa: E402

from edge_agent.config import MQTTConfig  # noqa: E402
from edge_agent.mqtt_client import MqttLink, OutboxSender  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=600, help="payload bytes (a violation event is ~450)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        box = Outbox(Path(tmp) / "q.sqlite3", max_messages=max(args.messages * 2, 100))
        payload = b"x" * args.size
        t0 = time.perf_counter()
        for _ in range(args.messages):
            box.put("maskwatch/bench/camera/c1/event", payload)
        put_s = time.perf_counter() - t0
        broker = Mosquitto(Path(tmp) / "broker", persistence=False).start()
        try:
            link = MqttLink(MQTTConfig(port=broker.port), "bench", "a1")
            sender = OutboxSender(box, link)
            sender.start()
            t1 = time.perf_counter()
            link.start()
            wait_for(lambda: box.pending() == 0, 600, what="backlog drained")
            drain_s = time.perf_counter() - t1
            sender.stop()
            link.stop()
        finally:
            broker.stop()
    print(json.dumps({"messages": args.messages, "payload_bytes": args.size,
                      "put_per_s": round(args.messages / put_s), "drain_per_s": round(args.messages / drain_s),
                      "drain_s_including_connect": round(drain_s, 2)}))


if __name__ == "__main__":
    main()
