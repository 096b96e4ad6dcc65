"""The cost of the shipped broker's autosave: PUBACK rate while a backlog is queued for an offline subscriber.

    .venv/bin/python bench/bench_broker_autosave.py [--messages 3000] [--size 700] [--intervals 1 100]

mosquitto from the config deploy/install.sh renders (tests/helpers/mosquitto.py), with its
``autosave_interval`` replaced by each value given (1 is what ships: the store is written after every
change). A persistent MQTT 5 subscriber subscribes and leaves; a publisher then sends ``--messages`` QoS 1
messages and waits for every PUBACK. Prints one JSON object per interval: messages, seconds, puback_per_s,
store_bytes (the size of mosquitto.db afterwards).
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

import paho.mqtt.client as mqtt  # noqa: E402
from helpers.mosquitto import Mosquitto  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402


def run(workdir: Path, interval: int, messages: int, size: int) -> dict[str, float]:
    b = Mosquitto(workdir, anonymous=True)
    conf = b.etc / "conf.d" / "maskwatch.conf"
    conf.write_text(conf.read_text().replace("autosave_interval 1\n", f"autosave_interval {interval}\n"))
    b.start()
    try:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="away", protocol=mqtt.MQTTv5)
        sub.connect("127.0.0.1", b.port, clean_start=False, properties=props)
        sub.subscribe("bench/#", 1)
        for _ in range(5):
            sub.loop(0.2)
        sub.disconnect()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(100)
        pub.connect("127.0.0.1", b.port)
        pub.loop_start()
        payload = b"x" * size
        t = time.perf_counter()
        infos = [pub.publish("bench/e", payload, qos=1) for _ in range(messages)]
        for info in infos:
            info.wait_for_publish(600)
        dt = time.perf_counter() - t
        pub.disconnect()
        pub.loop_stop()
    finally:
        b.stop()
    return {"autosave_interval": interval, "messages": messages, "seconds": round(dt, 2),
            "puback_per_s": round(messages / dt), "store_bytes": b.store.stat().st_size if b.store.exists() else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--size", type=int, default=700)
    ap.add_argument("--intervals", type=int, nargs="+", default=[1, 100])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for interval in args.intervals:
            print(json.dumps(run(Path(tmp) / f"i{interval}", interval, args.messages, args.size)), flush=True)


if __name__ == "__main__":
    main()
