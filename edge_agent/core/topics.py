"""MQTT topic names: the one definition used by the agent, the dashboard, the ACLs and the docs.

Layout (``prefix`` defaults to ``maskwatch``)::

    {prefix}/{site}/agent/{agent}/available          online | offline (last will) | stopped   retained
    {prefix}/{site}/camera/{camera}/event            violation event JSON                     QoS 1, durable
    {prefix}/{site}/camera/{camera}/snapshot/{id}    JPEG of the violation                    QoS 1, durable
    {prefix}/{site}/camera/{camera}/snapshot/{id}/{revision}   a better JPEG of the same event  QoS 1, durable
    {prefix}/{site}/camera/{camera}/face/{id}        full-resolution face crop (opt-in)       QoS 1, durable
    {prefix}/{site}/camera/{camera}/stats            periodic statistics JSON                 QoS 1, durable
    {prefix}/{site}/camera/{camera}/status           camera online/offline JSON               QoS 1, retained
    {prefix}/{site}/camera/{camera}/preview          low-rate JPEG preview frame              QoS 0
    {prefix}/{site}/camera/{camera}/enabled/set      ON | OFF: detection on/off (dashboard)   QoS 1
    {prefix}/{site}/camera/{camera}/enabled/state    ON | OFF, as the agent applies it        QoS 1, retained
    {prefix}/{site}/camera/{camera}/notifications/set    ON | OFF: notifications (dashboard)  QoS 1
    {prefix}/{site}/camera/{camera}/notifications/state  ON | OFF                             QoS 1, retained
    {prefix}/{site}/camera/{camera}/ha/{state|violation|snapshot}  Home Assistant entity states (dashboard)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, get_args

#: A topic level (site, agent, camera, event id): the one pattern, also used by the payload models' schemas.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

#: The agent's availability topic: ``online`` (on every connect), ``offline`` (the broker's last will),
#: ``stopped`` (clean exit).
Availability = Literal["online", "offline", "stopped"]
ONLINE: Final = "online"
OFFLINE: Final = "offline"
STOPPED: Final = "stopped"
AVAILABILITY_VALUES: tuple[str, ...] = get_args(Availability)
#: A camera's ``status`` payload state: a camera is online or offline (never "stopped").
CameraState = Literal["online", "offline"]

class Kind(StrEnum):
    """What a topic carries: the key of the payload models (``edge_agent.events.JSON_PAYLOADS``) and of their
    schema files (``edge_agent.schemas.FILES``). A ``StrEnum``: each member equals its topic level string."""

    AVAILABLE = "available"
    EVENT = "event"
    SNAPSHOT = "snapshot"
    STATS = "stats"
    STATUS = "status"
    PREVIEW = "preview"
    FACE = "face"
    #: ``.../camera/<cam>/<enabled|notifications>/<set|state>`` (the level after the camera is the switch)
    SWITCH = "switch"
    #: ``.../camera/<cam>/ha/<state|violation|snapshot>``: Home Assistant entity states (from the dashboard)
    HA = "ha"


AVAILABLE = Kind.AVAILABLE
EVENT = Kind.EVENT
SNAPSHOT = Kind.SNAPSHOT
STATS = Kind.STATS
STATUS = Kind.STATUS
PREVIEW = Kind.PREVIEW
FACE = Kind.FACE
CAMERA_KINDS = (EVENT, SNAPSHOT, STATS, STATUS, PREVIEW, FACE)
PER_EVENT = (SNAPSHOT, FACE)  # kinds with an event id (and an optional revision) as further levels
#: kinds that must reach the dashboard: an agent keeps them queued until a subscriber has taken custody (their
#: revisions are further levels of the same topics)
CUSTODY_KINDS = (EVENT, SNAPSHOT, FACE)
ENABLED = "enabled"
NOTIFICATIONS = "notifications"
SWITCHES = (ENABLED, NOTIFICATIONS)
SET = "set"
STATE = "state"
HA = Kind.HA
HA_TOPICS = ("state", "violation", "snapshot")
ON, OFF = "ON", "OFF"


def check_name(kind: str, value: str) -> str:
    """Topic levels (site, agent, camera) are plain names: no ``/``, ``+``, ``#`` or spaces."""
    if not _NAME.match(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid name: use 1-64 letters, digits, '_', '-', '.', "
            "starting with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    site: str

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "+# ") or self.prefix.endswith("/"):
            raise ValueError(f"topic prefix {self.prefix!r} must be non-empty, without '+', '#', spaces or a trailing '/'")
        check_name("site", self.site)

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site}"

    def available(self, agent: str) -> str:
        return f"{self.base}/agent/{check_name('agent', agent)}/{AVAILABLE}"

    def camera(self, camera: str, kind: str) -> str:
        if kind not in CAMERA_KINDS or kind in PER_EVENT:
            raise ValueError(f"kind {kind!r} must be one of {', '.join(k for k in CAMERA_KINDS if k not in PER_EVENT)}")
        return f"{self.base}/camera/{check_name('camera', camera)}/{kind}"

    def snapshot(self, camera: str, event_id: str, revision: int = 0, kind: str = SNAPSHOT) -> str:
        """Revision 0 (the snapshot sent with the decision) has no revision level; a better one has."""
        if kind not in PER_EVENT:
            raise ValueError(f"kind {kind!r} must be one of {', '.join(PER_EVENT)}")
        base = f"{self.base}/camera/{check_name('camera', camera)}/{kind}/{check_name('event_id', event_id)}"
        if revision < 0:
            raise ValueError(f"snapshot revision must be >= 0, got {revision}")
        return f"{base}/{revision}" if revision else base

    def face(self, camera: str, event_id: str, revision: int = 0) -> str:
        return self.snapshot(camera, event_id, revision, FACE)

    def switch(self, camera: str, name: str, action: str) -> str:
        """``.../camera/<camera>/<enabled|notifications>/<set|state>``."""
        if name not in SWITCHES or action not in (SET, STATE):
            raise ValueError(f"switch {name!r}/{action!r}: must be one of {SWITCHES} / (set, state)")
        return f"{self.base}/camera/{check_name('camera', camera)}/{name}/{action}"

    def switch_filter(self, action: str = SET) -> str:
        """Every camera's switch commands (what an agent subscribes to)."""
        return f"{self.base}/camera/+/+/{action}"

    def ha(self, camera: str, what: str) -> str:
        if what not in HA_TOPICS:
            raise ValueError(f"Home Assistant topic {what!r} must be one of {HA_TOPICS}")
        return f"{self.base}/camera/{check_name('camera', camera)}/{HA}/{what}"

    def site_filter(self) -> str:
        """Everything of this site (what an agent may publish to, under the installed ACLs)."""
        return f"{self.base}/#"


def all_sites_filter(prefix: str) -> str:
    return f"{prefix}/#"


#: the retained kinds the dashboard stores: brokers do not deliver retained messages to a shared subscription,
#: so ingest subscribes to these without the share as well
INGEST_RETAINED = (STATUS, AVAILABLE)


def kind_filter(prefix: str, kind: Kind) -> str:
    """Every site's topics of one kind (a subscription filter); per-event kinds include their revisions."""
    if kind == AVAILABLE:
        return f"{prefix}/+/agent/+/{AVAILABLE}"
    if kind in PER_EVENT:
        return f"{prefix}/+/camera/+/{kind}/#"
    if kind in CAMERA_KINDS:
        return f"{prefix}/+/camera/+/{kind}"
    raise ValueError(f"kind {kind!r} has no filter of its own; one of {', '.join((AVAILABLE, *CAMERA_KINDS))}")


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    site: str
    kind: Kind
    agent: str | None = None
    camera: str | None = None
    event_id: str | None = None
    revision: int = 0  # snapshots and face crops only
    switch: str | None = None  # enabled | notifications (kind "switch"); ha topic name (kind "ha")
    action: str | None = None  # set | state (kind "switch")


MAX_REVISION = 1000


def parse_topic(prefix: str, topic: str) -> ParsedTopic | None:
    """Inverse of :class:`Topics`; ``None`` for a topic that is not ours or is malformed."""
    parts = topic.split("/")
    pre = prefix.split("/")
    if parts[: len(pre)] != pre:
        return None
    rest = parts[len(pre):]
    try:
        if len(rest) == 4 and rest[1] == "agent" and rest[3] == AVAILABLE:
            return ParsedTopic(check_name("site", rest[0]), AVAILABLE, agent=check_name("agent", rest[2]))
        if len(rest) == 4 and rest[1] == "camera" and rest[3] in CAMERA_KINDS and rest[3] not in PER_EVENT:
            return ParsedTopic(check_name("site", rest[0]), Kind(rest[3]), camera=check_name("camera", rest[2]))
        if len(rest) == 5 and rest[1] == "camera" and rest[3] in SWITCHES and rest[4] in (SET, STATE):
            return ParsedTopic(check_name("site", rest[0]), Kind.SWITCH, camera=check_name("camera", rest[2]),
                               switch=rest[3], action=rest[4])
        if len(rest) == 5 and rest[1] == "camera" and rest[3] == HA and rest[4] in HA_TOPICS:
            return ParsedTopic(check_name("site", rest[0]), Kind.HA, camera=check_name("camera", rest[2]),
                               switch=rest[4])
        if len(rest) in (5, 6) and rest[1] == "camera" and rest[3] in PER_EVENT:
            revision = 0
            if len(rest) == 6:
                if not (rest[5].isascii() and rest[5].isdigit() and 0 < int(rest[5]) <= MAX_REVISION):
                    return None
                revision = int(rest[5])
            return ParsedTopic(
                check_name("site", rest[0]), Kind(rest[3]), camera=check_name("camera", rest[2]),
                event_id=check_name("event_id", rest[4]), revision=revision,
            )
    except ValueError:
        return None
    return None


def topic_kind(topic: str) -> Kind | None:
    """The kind of one of our topics whatever its prefix (``None`` for any other topic): what a store that
    does not know the prefix (the agent's outbox) keeps beside each message. The first prefix, shortest
    first, under which :func:`parse_topic` reads the topic decides."""
    parts = topic.split("/")
    for cut in range(1, len(parts) - 3):
        parsed = parse_topic("/".join(parts[:cut]), topic)
        if parsed is not None:
            return parsed.kind
    return None


def needs_custody(prefix: str, topic: str) -> bool:
    """Whether a message to ``topic`` must reach the dashboard (:data:`CUSTODY_KINDS`), so that a broker's
    "no matching subscribers" acknowledgement does not count as delivered."""
    parsed = parse_topic(prefix, topic)
    return parsed is not None and parsed.kind in CUSTODY_KINDS
