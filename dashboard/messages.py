"""Validate one MQTT message against the agent contract: topic + payload -> a typed message or a rejection.

Pure (no I/O): the ingest adapter feeds it every message it receives and stores only what comes out as a
message. The topic layout and payload models are the agent's (``edge_agent.core.topics``,
``edge_agent.events``); this module adds only what a database needs on top (sizes, ranges, NUL bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from edge_agent.core import topics as T
from edge_agent.events import (
    AVAILABILITY_VALUES,
    JSON_PAYLOADS,
    CameraStats,
    CameraStatus,
    ViolationEvent,
    is_jpeg,
)

MAX_JSON_BYTES = 64 * 1024
INT32 = 2**31 - 1


@dataclass(frozen=True, slots=True)
class EventMsg:
    event: ViolationEvent
    agent_time: datetime | None = None  # the agent's own time stamp when the ingest replaced it (clock_bounds)


@dataclass(frozen=True, slots=True)
class StatsMsg:
    stats: CameraStats


@dataclass(frozen=True, slots=True)
class StatusMsg:
    status: CameraStatus


@dataclass(frozen=True, slots=True)
class SnapshotMsg:
    site: str
    camera: str
    event_id: str
    jpeg: bytes
    revision: int = 0  # a higher revision replaces a lower one
    kind: str = T.SNAPSHOT  # snapshot | face (the full-resolution face crop)


@dataclass(frozen=True, slots=True)
class PreviewMsg:
    site: str
    camera: str
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class AvailabilityMsg:
    site: str
    agent: str
    value: str


@dataclass(frozen=True, slots=True)
class SwitchMsg:
    """An agent's retained switch state (``.../camera/<cam>/<enabled|notifications>/state``)."""

    site: str
    camera: str
    switch: str
    on: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """Ours but not for storage: switch commands and the dashboard's own Home Assistant states."""

    topic: str


@dataclass(frozen=True, slots=True)
class Rejected:
    # unknown_topic | too_large | invalid_json | invalid_payload | topic_mismatch | out_of_range | invalid_jpeg
    # | agent_mismatch (the ingest's camera claims: dashboard.camera_claims)
    reason: str
    topic: str
    detail: str


Message = EventMsg | StatsMsg | StatusMsg | SnapshotMsg | PreviewMsg | AvailabilityMsg | SwitchMsg


def payload_of(m: Message) -> ViolationEvent | CameraStats | CameraStatus | None:
    """The agent's JSON payload of an event, stats or status message (site, camera, agent, time); None else."""
    if isinstance(m, EventMsg):
        return m.event
    if isinstance(m, StatsMsg):
        return m.stats
    return m.status if isinstance(m, StatusMsg) else None
REJECT_REASONS = (
    "unknown_topic", "too_large", "invalid_json", "invalid_payload", "topic_mismatch", "out_of_range", "invalid_jpeg",
    "agent_mismatch",
)


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _range_problem(model: ViolationEvent | CameraStats | CameraStatus) -> str | None:
    """What a database column cannot hold (32-bit integers, finite floats, no NUL characters)."""
    if isinstance(model, ViolationEvent):
        ints = [model.track_id, model.votes, *model.box, *model.frame_size, *(model.snapshot_region or ())]
        floats = [model.confidence]
    elif isinstance(model, CameraStats):
        ints = [model.frames, model.dropped_frames, *model.people.values()]
        floats = [model.interval_s, model.fps, model.inference_ms]
    else:
        ints = list(model.resolution or ())
        floats = []
        if model.reason is not None and "\x00" in model.reason:
            return "reason contains a NUL character"
    if any(abs(i) > INT32 for i in ints):
        return "an integer does not fit 32 bits"
    if any(not math.isfinite(f) for f in floats):
        return "a number is not finite"
    return None


def classify(prefix: str, topic: str, payload: bytes) -> Message | Rejected | Ignored:
    """Turn one received message into a typed message, or say why it is rejected. Never raises."""
    parsed = T.parse_topic(prefix, topic)
    if parsed is None:
        return Rejected("unknown_topic", topic, "not a MaskWatch topic")
    if parsed.kind == T.HA or (parsed.kind == T.Kind.SWITCH and parsed.action == T.SET):
        return Ignored(topic)
    if parsed.kind == T.Kind.SWITCH:
        word = payload.decode("ascii", errors="replace").strip()
        if word not in (T.ON, T.OFF):
            return Rejected("invalid_payload", topic, f"switch state must be {T.ON} or {T.OFF}")
        assert parsed.camera is not None and parsed.switch is not None
        return SwitchMsg(parsed.site, parsed.camera, parsed.switch, word == T.ON)
    if parsed.kind in (*T.PER_EVENT, T.PREVIEW):
        if not is_jpeg(payload):
            return Rejected("invalid_jpeg", topic, f"{len(payload)} bytes, not a JPEG (or larger than the limit)")
        assert parsed.camera is not None
        if parsed.kind == T.PREVIEW:
            return PreviewMsg(parsed.site, parsed.camera, payload)
        assert parsed.event_id is not None
        return SnapshotMsg(parsed.site, parsed.camera, parsed.event_id, payload, parsed.revision, parsed.kind)
    if parsed.kind == T.AVAILABLE:
        value = payload.decode("ascii", errors="replace").strip()
        if value not in AVAILABILITY_VALUES:
            return Rejected("invalid_payload", topic, f"availability must be one of {AVAILABILITY_VALUES}")
        assert parsed.agent is not None
        return AvailabilityMsg(parsed.site, parsed.agent, value)
    if len(payload) > MAX_JSON_BYTES:
        return Rejected("too_large", topic, f"{len(payload)} bytes > {MAX_JSON_BYTES}")
    model_cls = JSON_PAYLOADS[parsed.kind]
    try:
        model = model_cls.model_validate_json(payload)
    except ValidationError as err:
        kind = "invalid_json" if any(e["type"] == "json_invalid" for e in err.errors()) else "invalid_payload"
        return Rejected(kind, topic, _short(str(err).replace("\n", " ")))
    except Exception as err:  # pydantic-core edge cases (e.g. recursion limits): still a rejection
        return Rejected("invalid_json", topic, _short(repr(err)))
    assert isinstance(model, ViolationEvent | CameraStats | CameraStatus)
    if model.site != parsed.site or model.camera != parsed.camera:
        return Rejected("topic_mismatch", topic, f"payload names {model.site}/{model.camera}")
    problem = _range_problem(model)
    if problem:
        return Rejected("out_of_range", topic, problem)
    if isinstance(model, ViolationEvent):
        return EventMsg(model)
    if isinstance(model, CameraStats):
        return StatsMsg(model)
    return StatusMsg(model)
