"""Prometheus metrics of the agent, read from the runtime at scrape time (``GET /metrics`` on the health port).

Nothing is counted twice: the collector reads the counters the runtime keeps anyway (frames, events,
errors, dropped frames, outbox state), so the analysis loop pays nothing for metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent.core.topics import ONLINE, CameraState

#: the ``maskwatch_camera_state`` series of every camera: the core's camera states, and "connecting" (kept so
#: that dashboards built on the series find it)
CAMERA_STATES = (*get_args(CameraState), "connecting")


class AgentCollector(Collector):
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        labels = ["camera"]
        frames = CounterMetricFamily("maskwatch_frames_analysed", "Frames analysed", labels=labels)
        infer = CounterMetricFamily("maskwatch_inference_seconds", "Time spent in detection and classification",
                                    labels=labels)
        fps = GaugeMetricFamily("maskwatch_camera_fps", "Frames analysed per second over the last stats interval",
                                labels=labels)
        infer_ms = GaugeMetricFamily("maskwatch_inference_ms", "Mean detection+classification time per frame over "
                                     "the last stats interval", labels=labels)
        events = CounterMetricFamily("maskwatch_events", "Violation events published", labels=labels)
        suppressed = CounterMetricFamily("maskwatch_events_outside_schedule",
                                         "Violations decided outside the camera's active hours (not published)",
                                         labels=labels)
        errors = CounterMetricFamily("maskwatch_analysis_errors", "Frames whose analysis failed", labels=labels)
        dropped = CounterMetricFamily("maskwatch_frames_dropped", "Captured frames dropped because analysis was "
                                      "busy (newest frame wins)", labels=labels)
        state = GaugeMetricFamily("maskwatch_camera_state", "1 for the camera's current state",
                                  labels=["camera", "state"])
        up = GaugeMetricFamily("maskwatch_camera_up", "1 while the camera delivers frames", labels=labels)
        enabled = GaugeMetricFamily("maskwatch_camera_detection_enabled", "1 while detection is switched on "
                                    "(.../enabled/set)", labels=labels)
        for r in list(rt.runners):
            cam = r.camera.name
            frames.add_metric([cam], r.frames_total)
            infer.add_metric([cam], r.infer_ms_total / 1000.0)
            fps.add_metric([cam], r.last_fps)
            infer_ms.add_metric([cam], r.last_infer_ms)
            events.add_metric([cam], r.events_total)
            suppressed.add_metric([cam], r.suppressed_total)
            errors.add_metric([cam], r.errors)
            dropped.add_metric([cam], r.dropped_total + r.worker.frames.dropped)
            s = r.worker.state.state
            for name in sorted(set(CAMERA_STATES) | {s}):
                state.add_metric([cam, name], 1.0 if name == s else 0.0)
            up.add_metric([cam], 1.0 if s == ONLINE else 0.0)
            enabled.add_metric([cam], 1.0 if r.detection_enabled else 0.0)
        yield from (frames, infer, fps, infer_ms, events, suppressed, errors, dropped, state, up, enabled)

        q = rt.outbox.stats()
        yield GaugeMetricFamily("maskwatch_queue_pending", "Messages waiting in the durable outbox", value=q.pending)
        yield GaugeMetricFamily("maskwatch_queue_in_flight", "Messages sent, not yet acknowledged", value=q.in_flight)
        yield GaugeMetricFamily("maskwatch_queue_bytes", "Payload bytes in the outbox", value=q.bytes)
        d = CounterMetricFamily("maskwatch_queue_dropped", "Outbox messages dropped", labels=["reason"])
        d.add_metric(["full"], q.dropped_full)
        d.add_metric(["age"], q.dropped_age)
        d.add_metric(["bytes"], q.dropped_bytes)
        yield d
        yield GaugeMetricFamily("maskwatch_queue_dead_letters", "Messages the broker refused (MQTT 5 reason code), "
                                "kept as dead letters", value=q.dead_letters)
        refused = CounterMetricFamily("maskwatch_queue_dead_lettered", "Messages ever refused by the broker",
                                      labels=["reason"])
        for reason, n in sorted(rt.outbox.dead_letter_reasons().items()):
            refused.add_metric([reason], n)
        yield refused
        yield CounterMetricFamily("maskwatch_queue_no_subscriber_retries", "Events, snapshots and face crops kept "
                                  "queued after the broker answered 'No matching subscribers'",
                                  value=rt.outbox.counter("no_subscriber_retries"))
        sender = rt.sender
        yield GaugeMetricFamily("maskwatch_queue_waiting_for_subscriber", "1 while events are held back because no "
                                "subscriber takes them", value=1.0 if getattr(sender, "waiting_for_subscriber", False)
                                else 0.0)
        yield CounterMetricFamily("maskwatch_messages_rejected", "Outbox messages that could never be sent "
                                  "(malformed topic or payload)", value=getattr(sender, "rejected", 0))
        yield CounterMetricFamily("maskwatch_messages_published", "Messages handed to the broker",
                                  value=getattr(sender, "published", 0))
        clock = rt.clock.state()
        yield CounterMetricFamily("maskwatch_clock_jumps", "Wall-clock jumps seen (wall vs monotonic clock)",
                                  value=clock.jumps)
        yield GaugeMetricFamily("maskwatch_clock_last_jump_seconds", "The latest wall-clock jump (+ forward)",
                                value=clock.last_jump_s or 0.0)
        yield GaugeMetricFamily("maskwatch_clock_offset_seconds", "Wall clock minus monotonic clock, relative to "
                                "the agent's start: every jump and drift since", value=clock.total_s)
        link = rt.link
        yield GaugeMetricFamily("maskwatch_mqtt_connected", "1 while connected to the broker",
                                value=1.0 if link is not None and link.connected.is_set() else 0.0)


def agent_metrics(runtime: Any) -> bytes:
    """The Prometheus text exposition for ``runtime`` (a fresh registry: no process-global state)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(AgentCollector(runtime))
    return bytes(generate_latest(reg))
