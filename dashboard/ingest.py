"""MQTT ingest: subscribe to the agents' topics, validate, store in batches, acknowledge after commit.

``Ingester`` is the core (no MQTT): ``process(batch)`` classifies, stores and counts; it never raises for a
bad message. ``MqttIngest`` is the adapter: the agent's connection model and client builder (``MQTTConfig``,
``edge_agent.mqtt_connection``: MQTT 5 with a persistent session unless ``mqtt.protocol`` is ``"3.1.1"`` for
brokers without MQTT 5; TLS, keepalive and reconnect back-off from the config), manual acknowledgements (a QoS 1
message is acknowledged only once its transaction committed, so a crash loses nothing: the broker re-delivers),
an optional shared subscription (``$share/<group>/...``) so several ingesters split the load, and a periodic
retention purge. Its queue between the network thread and the
writer is bounded by count and by bytes: when either is full the network thread waits and the broker holds
the rest (``max_queued_messages``/``max_queued_bytes`` of the shipped mosquitto config).

Retained topics (camera status, agent availability) are also subscribed without the share: brokers do not
send retained messages to shared subscriptions, and these messages are idempotent.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from dashboard.broker_retention import clear_retained_images, is_image_message, is_image_topic
from dashboard.camera_claims import CameraClaims
from dashboard.clock_bounds import bound
from dashboard.ingest_partition import Partition
from dashboard.messages import AvailabilityMsg, Ignored, Message, PreviewMsg, Rejected, classify
from dashboard.metrics import write_histogram
from dashboard.models import IngestCounter
from dashboard.notifier import Notifier
from dashboard.notify import NewEvent
from dashboard.previews import PreviewStore, default_preview_dir
from dashboard.retention import purge
from dashboard.settings import RetentionConfig
from dashboard.store import Store
from edge_agent.config import MQTTConfig
from edge_agent.core.topics import AVAILABLE, INGEST_RETAINED, all_sites_filter, kind_filter, parse_topic

log = logging.getLogger(__name__)
COUNTERS = IngestCounter.__table__


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0


class StoreUnavailable(Exception):
    """The database stayed unavailable until shutdown; the batch was not stored (and is not acknowledged)."""


class Ingester:
    """Classify -> store -> count. Thread-compatible (use from one thread).

    A database that is down or locked is retried with back-off (doubling to 30 s) until ``stop_event`` is
    set; a message the database refuses for its content is counted as ``store_error`` and dropped.
    """

    def __init__(self, engine: Engine, snapshot_dir: Path, prefix: str, name: str | None = None,
                 preview_dir: Path | None = None, time_bounds: bool = True,
                 partition: Partition | None = None, camera_claim_s: float | None = 300.0) -> None:
        """``time_bounds``: replace agent time stamps far from the receive time (dashboard.clock_bounds).
        ``partition``: store only that share of the messages (dashboard.ingest_partition); None = all.
        ``camera_claim_s``: refuse another agent's messages for a camera its online owner reported within
        this many seconds (dashboard.camera_claims); None = no check."""
        self.engine = engine
        self.claims = CameraClaims(camera_claim_s) if camera_claim_s else None
        self.partition = partition
        self.time_bounds = time_bounds
        self.prefix = prefix
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.store = Store(engine, snapshot_dir)
        self.previews = PreviewStore(preview_dir or default_preview_dir(snapshot_dir))
        self.counters: Counter[str] = Counter()
        self._reject_logged: Counter[str] = Counter()
        self.stop_event = threading.Event()
        self.notifier: Notifier | None = None
        self.write_seconds = write_histogram()
        # after each committed batch: (camera ids written, new events) -> e.g. Home Assistant states
        self.after_commit: list[Callable[[set[int], list[NewEvent]], None]] = []

    def attach_notifier(self, notifier: Notifier) -> None:
        """Plan notifications in the transaction that stores their events; wake the sender after commit."""
        self.notifier = notifier

        def plan(conn: Connection, events: list[NewEvent]) -> None:
            try:
                notifier.planner.plan(conn, events)
            except DBAPIError:
                raise  # the transaction is broken: the batch is retried as a whole, events and plans together
            except Exception:  # a bug in the rules must never cost the events themselves
                self.counters["notify_plan_error"] += 1
                log.exception("planning notifications for %d events failed; the events are stored", len(events))

        self.store.on_new_events = plan

    def _reject(self, r: Rejected) -> None:
        self.counters[f"rejected_{r.reason}"] += 1
        self.counters["rejected"] += 1
        n = self._reject_logged[r.reason] = self._reject_logged[r.reason] + 1
        if n <= 20 or n % 1000 == 0:  # the log shows the first ones and then a sample; counters have all
            log.warning("rejected %s message on %r (%d so far): %s", r.reason, r.topic[:200], n, r.detail)

    def _seed_claims(self) -> None:
        """The cameras' owners and the agents' availability from the database, once (retried next batch
        while the database is unavailable: until then the check knows only what this process received)."""
        if self.claims is None or self.claims.seeded:
            return
        try:
            with self.engine.connect() as conn:
                self.claims.seed(conn)
        except (OperationalError, InterfaceError) as err:
            log.warning("cannot read the cameras' agents yet (%s); retrying with the next batch",
                        str(err).splitlines()[0][:200])

    def process(self, batch: Sequence[Received]) -> None:
        """Store a batch. A database error retries one by one so one bad row cannot block the rest."""
        good: list[Message] = []
        previews: dict[tuple[str, str], PreviewMsg] = {}
        received = datetime.now(UTC)
        self._seed_claims()
        for item in batch:
            if self.partition is not None and not self.partition.owns(item.topic):
                self.counters["partition_skipped"] += 1  # another worker's share; it has its own copy
                if self.claims is not None:  # but every worker tracks every agent's availability
                    parsed = parse_topic(self.prefix, item.topic)
                    a = classify(self.prefix, item.topic, item.payload) if parsed and parsed.kind == AVAILABLE else None
                    if isinstance(a, AvailabilityMsg):
                        self.claims.availability(a)
                continue
            if not item.payload and is_image_topic(self.prefix, item.topic):
                self.counters["image_cleared_seen"] += 1  # an empty retained message clearing an image: no data
                continue
            m = classify(self.prefix, item.topic, item.payload)
            if isinstance(m, Rejected):
                self._reject(m)
            elif isinstance(m, Ignored):
                self.counters["ignored"] += 1
            elif isinstance(m, PreviewMsg):
                previews[(m.site, m.camera)] = m
            else:
                if self.claims is not None:
                    if isinstance(m, AvailabilityMsg):
                        self.claims.availability(m)
                    refused = self.claims.check(m, item.topic)
                    if refused is not None:
                        self._reject(refused)
                        continue
                m, clamped = bound(m, received) if self.time_bounds else (m, False)
                if clamped:
                    self.counters["time_clamped"] += 1
                    if self.counters["time_clamped"] <= 20 or self.counters["time_clamped"] % 1000 == 0:
                        log.warning("message on %r has a time stamp far from its receive time (agent clock wrong?): "
                                    "stored with the receive time (%d so far)", item.topic[:200],
                                    self.counters["time_clamped"])
                good.append(m)
        for p in previews.values():
            try:
                self.previews.put(p.site, p.camera, p.jpeg)
                self.counters["preview"] += 1
            except OSError as err:
                self.counters["preview_error"] += 1
                log.error("cannot write preview for %s/%s: %s", p.site, p.camera, err)
        if not good:
            return
        delay = 1.0
        while True:
            try:
                t0 = time.perf_counter()
                self.counters.update(self.store.write(good))
                self.write_seconds.observe(time.perf_counter() - t0)
                if self.notifier is not None:
                    self.notifier.wake.set()
                self._after_commit()
                return
            except (OperationalError, InterfaceError) as err:
                # the database is unreachable or locked: keep the batch (it is not acknowledged) and retry
                self.counters["store_retry"] += 1
                log.warning("database unavailable (%s); retrying %d messages in %.0f s",
                            str(err).splitlines()[0][:200], len(good), delay)
                if self.stop_event.wait(delay):
                    raise StoreUnavailable("stopping while the database is unavailable") from err
                delay = min(delay * 2, 30.0)
            except Exception:
                log.exception("batch of %d messages failed; storing them one by one", len(good))
                for m in good:
                    try:
                        self.counters.update(self.store.write([m]))
                    except Exception as err:
                        self.counters["store_error"] += 1
                        log.error("cannot store %s: %s", type(m).__name__, err)
                return

    def _after_commit(self) -> None:
        for fn in self.after_commit:
            try:
                fn(self.store.touched, self.store.new_events)
            except Exception:  # stored and acknowledged already: a failing listener must not undo that
                self.counters["after_commit_error"] += 1
                log.exception("after-commit listener failed")

    def flush_counters(self) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            have = set(conn.execute(select(COUNTERS.c.name).where(COUNTERS.c.ingester == self.name)).scalars())
            for name, value in self.counters.items():
                if name in have:
                    conn.execute(update(COUNTERS).where(COUNTERS.c.ingester == self.name, COUNTERS.c.name == name)
                                 .values(value=value, updated_at=now))
                else:
                    conn.execute(COUNTERS.insert().values(ingester=self.name, name=name, value=value, updated_at=now))


def subscriptions(prefix: str, group: str | None) -> list[str]:
    everything = all_sites_filter(prefix)
    if not group:
        return [everything]
    return [f"$share/{group}/{everything}", *(kind_filter(prefix, kind) for kind in INGEST_RETAINED)]


class MqttIngest:
    """Runs an :class:`Ingester` behind a paho-mqtt client; ``start()`` / ``stop()`` or ``run_forever()``."""

    def __init__(self, ingester: Ingester, mqtt: MQTTConfig, *, username: str | None = None,
                 password: str | None = None, group: str | None = None, batch_size: int = 500,
                 batch_wait_s: float = 0.0, retention_days: int | None = None, purge_every_s: float = 3600.0,
                 purge_first_s: float = 5.0, counters_every_s: float = 10.0, client_id: str | None = None,
                 retention: RetentionConfig | None = None, queue_max: int = 20_000,
                 queue_max_bytes: int = 64 * 2**20) -> None:
        """``mqtt``: the agent's connection model (host, port, keepalive, protocol, TLS, reconnect back-off);
        ``username``/``password``: the dashboard's own broker user, which replaces the agent's."""
        from edge_agent.mqtt_connection import ConnectionLog, build_client

        if group and mqtt.protocol != "5":
            raise ValueError("a shared subscription (dashboard.ingest_group) needs mqtt.protocol '5'")
        self.ingester = ingester
        self.group = group
        self.batch_size, self.batch_wait_s = batch_size, batch_wait_s
        # what a retention run enforces: the per-kind policy, or (older callers) one number of days for all
        self.retention: RetentionConfig | int | None = retention or retention_days
        self.purge_every_s, self.purge_first_s = purge_every_s, purge_first_s
        self.mqtt, self._credentials = mqtt, (username, password)
        self.counters_every_s = counters_every_s
        self.queue: queue.Queue[Received] = queue.Queue(maxsize=queue_max)
        self.queue_max_bytes = queue_max_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connect_listeners: list[Callable[[], None]] = []  # run in a thread of their own on each connect
        self._stop = ingester.stop_event
        self._writer: threading.Thread | None = None
        cid = client_id or f"maskwatch-dashboard-{socket.gethostname()}-{os.getpid()}"
        # A persistent session: while this ingest is away (or slow) the broker keeps its messages.
        self.connection = build_client(mqtt, cid, username=username, password=password, persistent=True,
                                       manual_ack=True, receive_maximum=1000)
        self.v5 = self.connection.v5
        self.client = self.connection.client
        self.conn_log = ConnectionLog("ingest", mqtt, backlog=self.queue.qsize)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = lambda client, userdata: self.conn_log.lost("broker unreachable")
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties):  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            self.conn_log.lost(f"broker refused the connection: {reason_code}")
            return
        self.conn_log.connected("5" if self.v5 else "3.1.1")
        topics = subscriptions(self.ingester.prefix, self.group)
        log.info("connected to the broker; subscribing to %s", ", ".join(topics))
        client.subscribe([(t, 1) for t in topics])
        self.connected.set()
        for fn in self.connect_listeners:
            threading.Thread(target=fn, name="on-connect", daemon=True).start()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):  # type: ignore[no-untyped-def]
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            log.error("subscription refused: %s", bad)
        else:
            if not self.subscribed.is_set():
                log.info("subscribed (the broker acknowledged %d topic filters)", len(reason_codes))
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):  # type: ignore[no-untyped-def]
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            self.conn_log.lost(reason_code)

    def _on_message(self, client, userdata, msg):  # type: ignore[no-untyped-def]
        if msg.retain and is_image_message(self.ingester.prefix, msg.topic, bytes(msg.payload)):
            # no image may stay retained on the broker (docs/privacy.md): clear it (an empty retained message)
            client.publish(msg.topic, b"", qos=1, retain=True)
            self.ingester.counters["retained_image_cleared"] += 1
        item = Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos)
        size = len(item.payload)
        while not self._stop.is_set():
            with self._bytes_lock:  # bounded by bytes too (one message always fits an empty queue)
                fits = self._queued_bytes == 0 or self._queued_bytes + size <= self.queue_max_bytes
            if not fits:
                self._stop.wait(0.05)  # back-pressure: the broker holds the rest
                continue
            try:
                self.queue.put(item, timeout=1.0)  # back-pressure: the broker holds the rest
            except queue.Full:
                continue
            with self._bytes_lock:
                self._queued_bytes += size
            return

    def _taken(self, item: Received) -> Received:
        with self._bytes_lock:
            self._queued_bytes -= len(item.payload)
        return item

    # ------------------------------------------------------------ writer thread
    def _next_batch(self) -> list[Received]:
        try:
            first = self._taken(self.queue.get(timeout=0.5))
        except queue.Empty:
            return []
        # batch_wait_s 0: take what is queued and go. Batches still grow under load (messages queue up while
        # the previous batch commits), and a lone alert is not held back (docs/performance.md: latency)
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                batch.append(self._taken(self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait()))
            except queue.Empty:
                break
        return batch

    def _writer_loop(self) -> None:
        next_counters = time.monotonic() + self.counters_every_s
        next_purge = time.monotonic() + self.purge_first_s
        while not (self._stop.is_set() and self.queue.empty()):
            batch = self._next_batch()
            if batch:
                try:
                    self.ingester.process(batch)
                except StoreUnavailable:
                    log.error("stopping with %d messages not stored; the broker re-delivers them", len(batch))
                    break
                except Exception:  # loop boundary: log, count, keep going (acknowledged: a poison message
                    self.ingester.counters["batch_error"] += 1  # must not block the session forever)
                    log.exception("unexpected error processing a batch of %d", len(batch))
                for item in batch:
                    if item.qos > 0:
                        self.client.ack(item.mid, item.qos)
            now = time.monotonic()
            try:
                if now >= next_counters:
                    next_counters = now + self.counters_every_s
                    self.ingester.flush_counters()
                    if isinstance(self.retention, RetentionConfig):  # a stopped camera's last frame goes soon
                        self.ingester.previews.purge_stale(self.retention.preview_max_age_s)
                if self.retention and now >= next_purge:
                    next_purge = now + self.purge_every_s
                    purge(self.ingester.engine, self.ingester.store.snapshot_dir, self.retention,
                          previews=self.ingester.previews)
                    username, password = self._credentials
                    self.ingester.counters["retained_image_cleared"] += clear_retained_images(
                        self.mqtt, prefix=self.ingester.prefix, username=username, password=password)
            except Exception:
                log.exception("periodic task failed; will retry")
        try:
            self.ingester.flush_counters()
        except Exception:
            log.exception("could not save the counters at exit")

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._writer = threading.Thread(target=self._writer_loop, name="ingest-writer", daemon=True)
        self._writer.start()
        self.connection.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        if self._writer is not None:
            self._writer.join(timeout)

    def run_forever(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.wait(60.0):
                c = self.ingester.counters
                log.info("ingest: %d events (%d duplicates), %d stats, %d snapshots, %d rejected",
                         c["event"], c["event_duplicate"], c["stats"], c["snapshot"], c["rejected"])
        finally:
            self.stop()

