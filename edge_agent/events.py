"""MQTT payloads: the contract between agent and dashboard (docs/mqtt.md). Versioned by ``schema``.

Pydantic models at the edge; ``extra="forbid"`` so a producer's typo is caught by the consumer.
JSON Schemas in ``edge_agent/schemas/`` are generated from these models (``python -m edge_agent.schemas``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge_agent.core.labels import LABELS, Verdict, Violation, is_violation
from edge_agent.core.topics import AVAILABILITY_VALUES, NAME_PATTERN, CameraState, Kind, check_name
from edge_agent.core.verdicts import Decision

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="Topic-safe name")]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site: Name
    agent: Name
    time: datetime = Field(description="UTC time the payload refers to (ISO 8601)")

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("time must carry a timezone (UTC)")
        return v.astimezone(UTC)


class ViolationEvent(_Payload):
    """One person seen not wearing a mask (correctly). One event per tracked person."""

    schema_: Literal["maskwatch.violation/1"] = Field("maskwatch.violation/1", alias="schema")
    event_id: Name = Field(description="Unique id (UUID hex); the dashboard stores events idempotently by it")
    camera: Name
    track_id: int = Field(ge=0)
    verdict: Violation
    confidence: float = Field(ge=0.0, le=1.0, description="Mean class probability over the deciding votes")
    box: tuple[int, int, int, int] = Field(description="Face box x1, y1, x2, y2 in pixels of the frame")
    frame_size: tuple[int, int] = Field(description="Frame width, height in pixels")
    votes: int = Field(ge=1, description="Frames that agreed on the verdict")
    snapshot: str | None = Field(None, description="Topic of the snapshot JPEG, if one was published")
    revision: int = Field(
        0, ge=0, le=1000, description="0 when the verdict is decided; a later message with the same event_id "
        "and a higher revision carries a better snapshot (and its box). Consumers keep the highest revision",
    )
    snapshot_region: tuple[int, int, int, int] | None = Field(
        None, description="The part of the frame the snapshot shows (x1, y1, x2, y2 frame pixels), so that "
        "``box`` can be drawn over it",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def from_decision(cls, decision: Decision, *, site: str, agent: str, camera: str, event_id: str,
                      frame_size: tuple[int, int], box: tuple[int, int, int, int] | None = None,
                      snapshot: str | None = None, snapshot_region: tuple[int, int, int, int] | None = None,
                      ) -> ViolationEvent:
        """The event of a decided violation. ``box`` is the face in the snapshot (the track's best shot),
        the deciding frame's box by default. The core's :class:`Decision` already holds what the payload
        requires; a verdict that is not a violation is a caller's error."""
        if not is_violation(decision.verdict):
            raise ValueError(f"verdict {decision.verdict!r} is not a violation: no event")
        return cls(site=site, agent=agent, time=datetime.fromtimestamp(decision.time, UTC), event_id=event_id,
                   camera=camera, track_id=decision.track_id, verdict=decision.verdict,
                   confidence=decision.confidence, box=decision.box if box is None else box,
                   frame_size=frame_size, votes=decision.votes, snapshot=snapshot, snapshot_region=snapshot_region)


class CameraStats(_Payload):
    """Per camera, per interval: unique people per verdict and pipeline health."""

    schema_: Literal["maskwatch.stats/1"] = Field("maskwatch.stats/1", alias="schema")
    camera: Name
    interval_s: float = Field(gt=0)
    people: dict[Verdict, int] = Field(description="Unique tracked people decided in the interval, per verdict")
    frames: int = Field(ge=0, description="Frames analysed in the interval")
    fps: float = Field(ge=0)
    inference_ms: float = Field(ge=0, description="Mean detection + classification time per analysed frame")
    dropped_frames: int = Field(ge=0, description="Frames captured but dropped because analysis was busy")
    queue_pending: int | None = Field(None, ge=0, description="The agent's backlog: messages in its outbox "
                                      "(disk and memory) not yet acknowledged by the broker, when this was queued")
    dead_letters: int | None = Field(None, ge=0, description="Messages the broker refused (MQTT 5 reason code), "
                                     "kept in the agent's outbox dead letters")
    no_subscriber_retries: int | None = Field(None, ge=0, description="Events, snapshots and face crops the broker "
                                              "answered 'No matching subscribers' (0x10) and the agent kept queued "
                                              "to send again (a persistent count)")
    waiting_for_subscriber: bool | None = Field(None, description="True while the agent holds its events back "
                                                "because no subscriber (ingest) takes them")
    clock_jumps: int | None = Field(None, ge=0, description="Wall-clock jumps the agent saw since it started "
                                    "(its wall clock against its monotonic clock, e.g. NTP after a boot without RTC)")
    clock_last_jump_s: float | None = Field(None, description="The latest wall-clock jump, seconds (+ forward)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("people")
    @classmethod
    def _all_labels(cls, v: dict[str, int]) -> dict[str, int]:
        if any(n < 0 for n in v.values()):
            raise ValueError("people counts must be >= 0")
        return {label: int(v.get(label, 0)) for label in LABELS}


class CameraStatus(_Payload):
    """Camera health, retained: the latest state is what a new subscriber sees."""

    schema_: Literal["maskwatch.camera_status/1"] = Field("maskwatch.camera_status/1", alias="schema")
    camera: Name
    state: CameraState
    reason: str | None = Field(None, max_length=500, description="Why the camera is offline")
    resolution: tuple[int, int] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def from_state(cls, state: CameraHealth, *, site: str, agent: str, camera: str,
                   time: datetime | None = None) -> CameraStatus:
        """A capture worker's state as the retained status (an empty reason is none, a long one is cut)."""
        return cls(site=site, agent=agent, time=time or utcnow(), camera=camera, state=state.state,
                   reason=state.reason[:500] if state.reason else None, resolution=state.resolution)


class CameraHealth(Protocol):
    """What :meth:`CameraStatus.from_state` reads (``edge_agent.sources.CameraState``)."""

    @property
    def state(self) -> CameraState: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def resolution(self) -> tuple[int, int] | None: ...


#: Payload models by topic kind (JSON payloads only; snapshot and preview are JPEG bytes).
JSON_PAYLOADS: dict[Kind, type[_Payload]] = {
    Kind.EVENT: ViolationEvent,
    Kind.STATS: CameraStats,
    Kind.STATUS: CameraStatus,
}

MAX_JPEG_BYTES = 2_000_000


def is_jpeg(data: bytes) -> bool:
    return len(data) <= MAX_JPEG_BYTES and data[:3] == b"\xff\xd8\xff"


def dump(payload: _Payload) -> bytes:
    return payload.model_dump_json(by_alias=True).encode()


__all__ = [
    "AVAILABILITY_VALUES", "Verdict", "Violation", "CameraStats", "CameraStatus", "JSON_PAYLOADS", "ViolationEvent",
    "check_name", "dump", "is_jpeg", "utcnow",
]
