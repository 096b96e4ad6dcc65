"""Dashboard benchmark: ingest rate into SQLite and page times over a large database.

    python bench/bench_dashboard.py                      # 1,000,000 events, prints JSON then a table
    python bench/bench_dashboard.py --events 200000 --ingest 5000 --no-mqtt

Measures
  1. ingest core: validated events/s through ``Ingester.process`` (classify + batched idempotent store) into
     a SQLite file (WAL), batches of 500 as the MQTT adapter makes them;
  2. ingest end to end: events/s published QoS 1 to a real mosquitto and stored by ``MqttIngest`` (acked
     after commit), if mosquitto is installed;
  3. page times (Flask test client, logged in, median of 5 after one cold run) over N stored events spread
     over 30 days and 10 cameras, with stats samples every 5 minutes per camera.
Targets (issue 4): ingest >= 1,000 events/s; statistics page over 1,000,000 events < 500 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics as st
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.auth import create_user  # noqa: E402
from dashboard.db import make_engine, session_factory, upgrade  # noqa: E402
from dashboard.ingest import Ingester, Received  # noqa: E402
from dashboard.rollup import rebuild_hourly  # noqa: E402
from dashboard.settings import parse_settings  # noqa: E402
from dashboard.store import CAMERAS, EVENTS, SAMPLES  # noqa: E402
from edge_agent.config import MQTTConfig  # noqa: E402
from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK  # noqa: E402
from edge_agent.events import ViolationEvent, dump  # noqa: E402

CAMERAS_N = 10
DAYS = 30


def event_payload(i: int, t: datetime, camera: str = "door") -> bytes:
    """An agent's event payload, built by the payload model itself (built before the clock starts)."""
    return dump(ViolationEvent(
        schema="maskwatch.violation/1", site="hq", agent="pi-1", camera=camera, time=t, event_id=uuid.uuid4().hex,
        track_id=i, verdict=WITHOUT_MASK if i % 3 else MASK_INCORRECT, confidence=0.9, box=(10, 20, 110, 140),
        frame_size=(1280, 720), votes=3))


def bench_ingest_core(workdir: Path, n: int) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{workdir / 'ingest.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, workdir / "snaps", "maskwatch", name="bench")
    now = datetime.now(UTC)
    msgs = [Received("maskwatch/hq/camera/door/event", event_payload(i, now)) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        ing.process(msgs[i:i + 500])
    dt = time.perf_counter() - t0
    assert ing.counters["event"] == n, ing.counters
    t0 = time.perf_counter()
    ing.process(msgs[:5000])  # replayed backlog
    dt_dup = time.perf_counter() - t0
    engine.dispose()
    return {"events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt),
            "replay_events_per_s": round(min(n, 5000) / dt_dup)}


def bench_ingest_mqtt(workdir: Path, n: int) -> dict[str, float] | None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import paho.mqtt.client as mqtt
    from helpers.mosquitto import Mosquitto

    from dashboard.ingest import MqttIngest

    broker = Mosquitto(workdir / "broker", persistence=False).start()
    engine = make_engine(f"sqlite:///{workdir / 'mqtt.sqlite3'}")
    upgrade(engine)
    ing = MqttIngest(Ingester(engine, workdir / "snaps2", "maskwatch", name="bench-mqtt"),
                     MQTTConfig(host="127.0.0.1", port=broker.port), client_id="bench-ingest")
    ing.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    try:
        assert ing.subscribed.wait(10)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        now = datetime.now(UTC)
        payloads = [event_payload(i, now) for i in range(n)]
        done = threading.Event()

        def watch() -> None:
            while ing.ingester.counters["event"] < n:
                time.sleep(0.01)
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        t0 = time.perf_counter()
        for p in payloads:
            pub.publish("maskwatch/hq/camera/door/event", p, qos=1)
        ok = done.wait(120)
        dt = time.perf_counter() - t0
        return {"events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt) if ok else 0,
                "complete": ok}
    finally:
        pub.disconnect()
        pub.loop_stop()
        ing.stop()
        broker.stop()
        engine.dispose()


def build_big_db(workdir: Path, n: int) -> tuple[Path, dict[str, float]]:
    """n events over DAYS days and CAMERAS_N cameras, stats every 5 min, hourly roll-up rebuilt."""
    db = workdir / "big.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    rnd = random.Random(7)
    end = datetime.now(UTC)
    start = end - timedelta(days=DAYS)
    span = (end - start).total_seconds()
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(CAMERAS), [{"site": "hq", "name": f"cam{c:02d}", "state": "online", "agent": "pi-1"}
                                       for c in range(CAMERAS_N)])
    chunk = 50_000
    for base in range(0, n, chunk):
        rows = []
        for i in range(base, min(n, base + chunk)):
            t = start + timedelta(seconds=rnd.random() * span)
            rows.append({"event_id": f"{i:012x}{rnd.getrandbits(64):016x}", "camera_id": 1 + i % CAMERAS_N,
                         "agent": "pi-1", "time": t, "received_at": t,
                         "verdict": WITHOUT_MASK if i % 4 else MASK_INCORRECT, "confidence": 0.85,
                         "track_id": i, "votes": 3, "box": "10,20,110,140", "frame_w": 1280, "frame_h": 720})
        with engine.begin() as conn:
            conn.execute(insert(EVENTS), rows)
    samples = []
    t = start
    while t < end:
        for c in range(CAMERAS_N):
            samples.append({"camera_id": 1 + c, "time": t, "interval_s": 300, WITH_MASK: rnd.randint(5, 40),
                            WITHOUT_MASK: rnd.randint(0, 8), MASK_INCORRECT: rnd.randint(0, 3), "frames": 1500,
                            "fps": 5.0, "inference_ms": 20.0, "dropped_frames": 0})
        t += timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(insert(SAMPLES), samples)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hourly_rows = rebuild_hourly(engine)
    rebuild_s = time.perf_counter() - t0
    engine.dispose()
    return db, {"events": n, "stat_samples": len(samples), "hourly_rows": hourly_rows,
                "load_seconds": round(load_s, 1), "rollup_rebuild_seconds": round(rebuild_s, 1),
                "db_mb": round(db.stat().st_size / 1e6, 1)}


PAGES = [
    ("statistics 7 days per hour (default)", "/statistics"),
    ("statistics 30 days per day", "/statistics?days=30&bucket=day"),
    ("statistics 365 days per week", "/statistics?days=365&bucket=week"),
    ("statistics one camera 30 days/hour", "/statistics?days=30&bucket=hour&camera=3"),
    ("overview", "/"),
    ("violations page 1", "/violations"),
    ("violations camera+verdict page 5", "/violations?camera=3&verdict=mask_incorrect&page=5"),
    ("api stats 30 days", "/api/v1/stats?days=30&bucket=day"),
    ("api events page 1", "/api/v1/events"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="stored events for the page benchmark")
    ap.add_argument("--ingest", type=int, default=20_000, help="events for the ingest benchmark")
    ap.add_argument("--no-mqtt", action="store_true", help="skip the end-to-end mosquitto ingest benchmark")
    ap.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir, removed)")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mw-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result: dict[str, object] = {"machine_note": "SQLite file, WAL, synchronous=NORMAL; Flask test client"}
        result["ingest_core"] = bench_ingest_core(workdir, args.ingest)
        result["ingest_mqtt"] = None if args.no_mqtt else bench_ingest_mqtt(workdir, min(args.ingest, 10_000))
        db, info = build_big_db(workdir, args.events)
        result["database"] = info
        app_pages = bench_pages(db, workdir)
        result["pages"] = app_pages
        stats_ms = max(p["median_ms"] for p in app_pages if str(p["page"]).startswith("statistics"))
        result["targets"] = {
            "ingest_events_per_s>=1000": result["ingest_core"]["events_per_s"] >= 1000,  # type: ignore[index]
            "statistics_page_ms<500": stats_ms < 500,
        }
        print(json.dumps(result, indent=2))
        print()
        print(f"{'measure':44} {'value':>14}")
        print(f"{'ingest core (events/s)':44} {result['ingest_core']['events_per_s']:>14}")  # type: ignore[index]
        if result["ingest_mqtt"]:
            print(f"{'ingest via mosquitto QoS1 (events/s)':44} {result['ingest_mqtt']['events_per_s']:>14}")  # type: ignore[index]
        print(f"{'stored events':44} {info['events']:>14}")
        print(f"{'page':44} {'cold ms':>8} {'median ms':>10}")
        for p in app_pages:
            print(f"{p['page']:44} {p['cold_ms']:>8} {p['median_ms']:>10}")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def bench_pages(db: Path, workdir: Path) -> list[dict[str, float | str]]:
    import re

    settings = parse_settings({"dashboard": {"database_url": f"sqlite:///{db}", "snapshot_dir": str(workdir / "snaps")}})
    app = create_app(settings, {"TESTING": True})
    with session_factory(app.extensions["maskwatch"]["engine"])() as s:
        create_user(s, "bench", "bench password 123")
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    r = client.post("/login", data={"username": "bench", "password": "bench password 123", "csrf_token": token.group(1)})
    assert r.status_code == 302
    out = []
    for name, url in PAGES:
        times = []
        for _ in range(6):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, (url, resp.status_code)
        out.append({"page": name, "url": url, "cold_ms": round(times[0], 1),
                    "median_ms": round(st.median(times[1:]), 1), "max_ms": round(max(times[1:]), 1),
                    "bytes": len(resp.data)})
    return out


if __name__ == "__main__":
    raise SystemExit(main())
