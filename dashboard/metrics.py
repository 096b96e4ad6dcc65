"""Prometheus metrics of the ingest process (``dashboard.metrics_port``, loopback by default): messages in by
kind, rejected by reason, database write latency, notifications sent / failed / waiting, the ingest queue.
Read from the counters the ingest keeps anyway, at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from dashboard.models import Notification

log = logging.getLogger(__name__)


def write_histogram() -> Histogram:
    """Seconds per committed batch (not registered anywhere: the collector below exposes it)."""
    return Histogram("maskwatch_ingest_db_write_seconds", "Time to store one batch (one transaction)",
                     registry=None, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class IngestCollector(Collector):
    def __init__(self, ingester: Any, notifier: Any = None, mqtt: Any = None) -> None:
        self.ingester, self.notifier, self.mqtt = ingester, notifier, mqtt

    def collect(self) -> Iterator[Metric]:
        c = dict(self.ingester.counters)
        msgs = CounterMetricFamily("maskwatch_ingest_messages", "Messages stored, by kind (duplicates apart)",
                                   labels=["kind"])
        rejected = CounterMetricFamily("maskwatch_ingest_rejected", "Messages rejected, by reason", labels=["reason"])
        other = CounterMetricFamily("maskwatch_ingest_errors", "Store retries and errors", labels=["kind"])
        for name, value in sorted(c.items()):
            if name.startswith("rejected_"):
                rejected.add_metric([name[len("rejected_"):]], value)
            elif name in ("store_retry", "store_error", "batch_error", "preview_error"):
                other.add_metric([name], value)
            elif name != "rejected":
                msgs.add_metric([name], value)
        yield from (msgs, rejected, other)
        yield from self.ingester.write_seconds.collect()
        if self.mqtt is not None:
            yield GaugeMetricFamily("maskwatch_ingest_queue", "Messages received, not yet stored",
                                    value=self.mqtt.queue.qsize())
            yield GaugeMetricFamily("maskwatch_ingest_connected", "1 while connected to the broker",
                                    value=1.0 if self.mqtt.connected.is_set() else 0.0)
        if self.notifier is not None:
            n = CounterMetricFamily("maskwatch_notifications", "Notification tries by outcome (this process)",
                                    labels=["outcome"])
            for outcome in ("sent", "failed", "retry"):
                n.add_metric([outcome], self.notifier.counters[outcome])
            yield n
            waiting = GaugeMetricFamily("maskwatch_notifications_waiting", "Notifications pending or held",
                                        labels=["status"])
            with self.ingester.engine.connect() as conn:
                have = dict(conn.execute(select(Notification.status, func.count())
                                         .where(Notification.status.in_(("pending", "held")))
                                         .group_by(Notification.status)).all())
            for status in ("pending", "held"):
                waiting.add_metric([status], have.get(status, 0))
            yield waiting


def serve_metrics(host: str, port: int, collector: Collector) -> CollectorRegistry | None:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    try:
        start_http_server(port, addr=host, registry=reg)
    except OSError as err:
        log.error("metrics endpoint not started on %s:%d: %s", host, port, err.strerror)
        return None
    log.info("Prometheus metrics on http://%s:%d/metrics", host, port)
    return reg
