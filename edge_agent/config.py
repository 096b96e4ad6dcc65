"""The one config schema (pydantic), validated at start. Reading the file is separate from validating it.

Secrets come from the environment: any string value may be ``${VAR}`` or ``${VAR:-default}``.
A missing variable without a default is a config error naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edge_agent.alerts_config import ScheduleConfig
from edge_agent.config_base import Section, tagged_union
from edge_agent.core.topics import check_name
from edge_agent.detectors import REGISTRY as DETECTORS

# the plugins' config models, re-exported: their home is beside the plugins
from edge_agent.detectors.configs import BlazeFaceConfig as BlazeFaceConfig
from edge_agent.detectors.configs import CenterFaceConfig as CenterFaceConfig
from edge_agent.detectors.configs import FakeDetectorConfig as FakeDetectorConfig
from edge_agent.sources import SOURCES
from edge_agent.sources.configs import DemoSource as DemoSource
from edge_agent.sources.configs import FileSource as FileSource
from edge_agent.sources.configs import RTSPSource as RTSPSource
from edge_agent.sources.configs import USBSource as USBSource

DEFAULT_CONFIG_PATHS = (Path("config.yaml"), Path("/etc/maskwatch/config.yaml"))
PACKAGED_MODEL = Path(__file__).parent / "models" / "model_card.json"


class ConfigError(Exception):
    """Invalid or unreadable configuration. The entry point prints it and exits with code 2."""


_Section = Section  # the base of every section (edge_agent/config_base.py); the dashboard's build on it too


# ---------------------------------------------------------------- MQTT
class TLSConfig(_Section):
    enabled: bool = Field(False, description="Connect with TLS")
    ca_file: Path | None = Field(None, description="CA certificate to verify the broker (system CAs if unset)")
    cert_file: Path | None = Field(None, description="Client certificate, for brokers that require one")
    key_file: Path | None = Field(None, description="Client key for cert_file")
    insecure: bool = Field(False, description="Skip hostname verification (testing only)")


class MQTTConfig(_Section):
    host: str = Field("127.0.0.1", description="Broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual for TLS)")
    username: str | None = Field(None, description="Broker user; use ${MASKWATCH_MQTT_USER}")
    password: SecretStr | None = Field(None, description="Broker password; use ${MASKWATCH_MQTT_PASSWORD}, never a literal")
    client_id: str | None = Field(None, description="MQTT client id; default maskwatch-<site>-<agent_id>")
    topic_prefix: str = Field("maskwatch", description="First topic level of every MQTT topic")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds")
    reconnect_min_s: float = Field(1.0, gt=0, description="First reconnect delay; doubles up to reconnect_max_s")
    reconnect_max_s: float = Field(120.0, gt=0, description="Longest reconnect delay")
    protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT version. 5: a PUBACK says whether the broker accepted a message (refused ones go to "
        "the outbox's dead letters); 3.1.1 only for brokers without MQTT 5 (amqtt): deliveries are then unconfirmed")
    tls: TLSConfig = Field(default_factory=TLSConfig)


# ---------------------------------------------------------------- camera sources (edge_agent/sources/configs.py)
if TYPE_CHECKING:  # a union built at run time is opaque to a type checker
    SourceConfig = Any
else:
    SourceConfig = tagged_union(model for model, _ in SOURCES.values())


class MotionConfig(_Section):
    """Motion-gated detection: a cheap motion check on a small grey frame decides when the detector runs
    (edge_agent/motion.py). Live tracks keep it running; ``refresh_s`` bounds the time between two runs."""

    enabled: bool = Field(True, description="Run the face detector only on motion, live tracks and every refresh_s")
    width: int = Field(160, ge=32, le=640, description="Width in pixels of the grey frame motion is computed on")
    threshold: float = Field(25.0, gt=0, le=255, description="Pixel difference from the background, after scaling "
                             "the background's contrast to 0..255, that counts as motion")
    min_contrast: float = Field(24.0, gt=0, le=255, description="Contrast scaling stops at this background range "
                                "(grey levels), so sensor noise in a dark scene is not amplified without bound")
    min_area: float = Field(0.002, ge=0, le=1, description="Smallest moving region, as a fraction of the frame")
    learning_rate: float = Field(0.05, gt=0, le=1, description="How fast the background follows still parts of the scene")
    lighting_change: float = Field(0.5, gt=0, le=1, description="A frame where more than this fraction moved is a "
                                   "lighting change: the background restarts and the detector runs")
    refresh_s: float = Field(5.0, gt=0, le=600, description="Run the detector at least this often even without "
                             "motion, and on the whole frame at least this often when regions is on")
    regions: bool = Field(True, description="Run the detector on the moving regions and the live tracks only "
                          "(widened by region_margin), not the whole frame, when they cover at most region_max_area "
                          "of it (edge_agent/regions.py; CenterFace only)")
    region_margin: float = Field(0.03, ge=0, le=0.5, description="Margin added on each side of a moving region or "
                                 "track, as a fraction of the frame's width and height")
    region_max_area: float = Field(0.7, gt=0, le=1, description="Above this fraction of the frame covered by regions, "
                                   "the detector runs on the whole frame")


# ---------------------------------------------------------------- privacy (docs/privacy.md)
PrivacyMode = Literal["blur_bystanders", "blur_all", "no_images"]
PRIVACY_MODES: tuple[str, ...] = ("blur_bystanders", "blur_all", "no_images")


class PrivacyConfig(_Section):
    mode: PrivacyMode = Field(
        "blur_bystanders", description="What images leave the device. blur_bystanders: every face but the "
        "violator's is blurred in snapshots and previews; blur_all: the violator too (compliance statistics "
        "only); no_images: no snapshot and no preview is published at all. A camera's privacy_mode overrides it",
    )


class CameraConfig(_Section):
    name: str = Field(description="Camera name, unique per site; used in topics")
    source: SourceConfig
    enabled: bool = True
    privacy_mode: PrivacyMode | None = Field(
        None, description="This camera's privacy mode (blur_bystanders | blur_all | no_images); default: privacy.mode",
    )
    detect_fps: float = Field(5.0, gt=0, le=60, description="Frames analysed per second (others are skipped)")
    width: int | None = Field(None, ge=64, le=7680, description="Resize frames to this width before analysis")
    height: int | None = Field(None, ge=64, le=4320, description="Resize frames to this height before analysis")
    roi: list[tuple[float, float]] | None = Field(
        None, description="Region of interest polygon, points as [x, y] fractions of the frame (0..1); "
        "only faces whose centre lies inside count",
    )
    motion: MotionConfig = Field(default_factory=MotionConfig)
    skip_unanalysed: bool = Field(True, description="Grab every frame (the stream stays live) but convert to BGR only "
                                  "those detect_fps will analyse (RTSP and USB cameras); false: convert every frame")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening the stream after this")
    read_timeout_s: float = Field(3.0, gt=0, le=120, description="A read that takes longer marks the camera offline")
    reconnect_max_s: float = Field(
        60.0, ge=1, le=3600, description="Reconnect attempts wait 1 s, 2 s, 4 s ... up to this; an RTSP camera is "
        "probed about once a second meanwhile and reconnected as soon as its server answers again",
    )
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="Active hours: outside them "
                                     "no violations are published (people are still counted in stats)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name("camera name", v)

    @field_validator("roi")
    @classmethod
    def _roi(cls, v: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if v is None:
            return v
        if len(v) < 3:
            raise ValueError("a region of interest needs at least 3 points")
        if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in v):
            raise ValueError("roi points are fractions of the frame: each x and y in 0.0..1.0")
        return v


# ---------------------------------------------------------------- detection (edge_agent/detectors/configs.py) and classification
if TYPE_CHECKING:
    DetectorConfig = Any
else:
    DetectorConfig = tagged_union(model for model, _ in DETECTORS.values())


class ClassifierConfig(_Section):
    model_card: Path = Field(PACKAGED_MODEL, description="Model card JSON next to the .tflite (names model, labels, crop)",
                             json_schema_extra={"default": "<edge_agent package>/models/model_card.json"})
    threads: int = Field(1, ge=1, le=8, description="Interpreter threads")


class TrackerConfig(_Section):
    iou_threshold: float = Field(0.3, gt=0, le=1.0, description="Minimum IoU to continue a track")
    max_age_s: float = Field(2.0, gt=0, description="Forget a track not seen for this long (at detect_fps; at a lower "
                             "achieved analysis rate at least 3 analysis intervals)")
    votes: int = Field(3, ge=1, le=50, description="Frames that must agree before a verdict is decided (at detect_fps; "
                       "scaled down with the achieved analysis rate, never below 2)")
    window: int = Field(5, ge=1, le=100, description="Recent frames considered for the vote")
    min_confidence: float = Field(0.6, ge=0.0, le=1.0, description="Class probability below this does not vote")
    max_distance: float = Field(
        2.0, ge=0.0, le=10.0, description="Also continue a track whose predicted face centre is within this many "
        "face sizes of a new face (low analysis rates, fast walkers); 0 = IoU only",
    )
    vote_border_px: int = Field(
        2, ge=0, le=100, description="A face whose box comes within this many pixels of the frame border is "
        "tracked but does not vote (a person entering shows half a face)",
    )
    vote_min_face_px: int = Field(
        24, ge=0, le=2000, description="A face whose larger side is under this many frame pixels does not vote",
    )
    unseen_max_age_s: float = Field(
        0.5, gt=0, le=60, description="Forget sooner a track whose last face was not well seen (clipped by the "
        "border or roi, too small): a person leaving the frame, not to be continued by the next one entering",
    )
    vote_whole_in_roi: bool = Field(
        True, description="With a camera roi, a face must lie wholly inside it to vote (its centre inside is "
        "enough to be tracked)",
    )

    @model_validator(mode="after")
    def _window(self) -> TrackerConfig:
        if self.votes > self.window:
            raise ValueError(f"votes ({self.votes}) cannot exceed window ({self.window})")
        return self


class LowLightConfig(_Section):
    """Normalise the detector's input when a frame is dark (the classifier still sees the frame as it is)."""

    enabled: bool = Field(True, description="Normalise the detector's input in low light")
    dark_below: float = Field(50.0, ge=0, le=255, description="Mean grey level (0-255) under which a frame is dark")
    target: float = Field(110.0, gt=0, lt=255, description="Mean grey level a dark frame is brought to by a "
                          "linear gain, after an edge-preserving (bilateral) denoise")
    score_factor: float = Field(0.4, gt=0, le=1.0, description="In a dark frame the detector's score_threshold is "
                                "multiplied by this (dark faces score lower)")
    classifier: bool = Field(False, description="Also normalise the face crops the classifier sees in a dark frame")
    raw_pass: bool = Field(True, description="In a dark frame also run the detector on the frame as it is and merge "
                           "both passes' faces (non-maximum suppression); costs a second detector pass in dark "
                           "frames only")


# ---------------------------------------------------------------- outputs
class SnapshotConfig(_Section):
    enabled: bool = True
    jpeg_quality: int = Field(85, ge=10, le=100)
    max_width: int = Field(960, ge=160, le=3840, description="Snapshots are scaled down to this width")
    best_shot_wait_s: float = Field(
        10.0, ge=0, le=600, description="The event is published when decided, with the best face so far; a "
        "better face seen later is sent as a revision of the same event when the track ends or this many "
        "seconds after the decision, whichever comes first (0 = never revise)",
    )
    face_crops: bool = Field(
        False, description="Also publish the violator's face at full resolution (topic .../face/<event_id>) for "
        "the dashboard's review loop and retraining; kept under the dashboard's snapshot retention",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_blur_switch(cls, data: Any) -> Any:
        if isinstance(data, dict) and "blur_other_faces" in data:
            raise ValueError("blur_other_faces was removed: bystanders are always blurred; use privacy.mode "
                             f"(allowed: {', '.join(PRIVACY_MODES)}) or a camera's privacy_mode")
        return data


class PreviewConfig(_Section):
    enabled: bool = True
    fps: float = Field(1.0, gt=0, le=10, description="Preview frames per second per camera")
    width: int = Field(480, ge=160, le=1920)
    jpeg_quality: int = Field(70, ge=10, le=100)


class QueueConfig(_Section):
    path: Path = Field(Path("var/queue.sqlite3"), description="Durable outgoing queue (SQLite file)")
    max_messages: int = Field(100_000, ge=100, description="Oldest messages are dropped (and counted) past this")
    max_age_h: float = Field(168.0, gt=0, description="Messages older than this are dropped (and counted)")
    max_mb: float = Field(512.0, ge=1, description="Stored payloads above this many MB: the oldest snapshots are "
                          "dropped first, then the oldest messages (and counted)")


class AgentConfig(_Section):
    stats_interval_s: float = Field(60.0, ge=1, le=3600, description="Period of the stats message per camera")
    health_port: int | None = Field(9101, ge=1, le=65535, description="Serve /healthz and /metrics (Prometheus) "
                                    "on health_host:PORT; null = off")
    health_host: str = Field("127.0.0.1", description="Address of the health endpoint (loopback: local probes)")


# ---------------------------------------------------------------- the dashboard side's sections, trainer
class OtherServiceSection(_Section):
    """A section only the dashboard side reads (``DASHBOARD_ONLY_SECTIONS``): the agent passes it through, and the
    dashboard validates it with its own models (dashboard/settings.py); ``maskwatch config check`` validates both."""

    model_config = ConfigDict(extra="allow")


def check_timezone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; use an IANA name such as UTC or Europe/Berlin") from None
    return v


class DashboardSection(OtherServiceSection):
    """The ``dashboard`` section as the agent reads it: only the site's clock, for the cameras' schedules."""

    timezone: str = Field("UTC", description="IANA time zone for the dashboard's days and hours (e.g. Europe/Berlin)")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)


class TrainerConfig(_Section):
    model_config = ConfigDict(extra="allow")  # the trainer validates its own options


# ---------------------------------------------------------------- root
class Config(_Section):
    site: str = Field("site", description="Site name (first topic level after the prefix)")
    agent_id: str = Field("agent", description="This agent's name, unique per site")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    mqtt: MQTTConfig = Field(default_factory=MQTTConfig)
    detector: DetectorConfig = Field(default_factory=lambda: CenterFaceConfig(type="centerface"))
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    low_light: LowLightConfig = Field(default_factory=LowLightConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    cameras: list[CameraConfig] = Field(default_factory=list)
    dashboard: DashboardSection = Field(default_factory=DashboardSection)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    notifications: OtherServiceSection = Field(default_factory=OtherServiceSection)
    homeassistant: OtherServiceSection = Field(default_factory=OtherServiceSection)

    @field_validator("site", "agent_id")
    @classmethod
    def _names(cls, v: str) -> str:
        return check_name("name", v)

    @model_validator(mode="after")
    def _unique_cameras(self) -> Config:
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique per site; repeated: {', '.join(dupes)}")
        return self

    def privacy_mode(self, camera: CameraConfig) -> PrivacyMode:
        """The camera's own privacy mode, else the site's (``privacy.mode``)."""
        return camera.privacy_mode or self.privacy.mode


# ---------------------------------------------------------------- loading
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(data: Any, env: dict[str, str] | None = None, path: str = "") -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; a missing VAR raises ConfigError naming the key."""
    env = dict(os.environ) if env is None else env
    if isinstance(data, dict):
        return {k: expand_env(v, env, f"{path}.{k}" if path else str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, env, f"{path}[{i}]") for i, v in enumerate(data)]
    if isinstance(data, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set (referenced as ${{{name}}})")
        out = _ENV.sub(sub, data)
        return None if out == "" and data != "" else out
    return data


#: the discriminator branch names (every source and detector type), from the registries
PLUGIN_TYPES = frozenset(SOURCES) | frozenset(DETECTORS)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in PLUGIN_TYPES:
            continue  # discriminator branch names are noise in a key path
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


SECRET_KEYS = {"url", "password", "secret_key", "mqtt_password"}


def format_validation_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = _loc(tuple(e["loc"]))
        value = e.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        msg = e["msg"]
        ctx = e.get("ctx") or {}
        if e["type"] == "union_tag_invalid":
            msg = f"unknown type; allowed: {ctx.get('expected_tags')}"
            shown = f" (got {ctx.get('tag')!r})"
        elif e["type"] == "literal_error":
            msg = f"allowed values: {ctx.get('expected')}"
        elif e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling)"
            shown = ""
        if key.rsplit(".", 1)[-1] in SECRET_KEYS:
            shown = ""  # URLs and passwords carry secrets: name the key, never echo the value
        lines.append(f"{key}: {msg}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


C = TypeVar("C", bound=Config)


def parse_config(data: dict[str, Any] | None, env: dict[str, str] | None = None, *,
                 model: type[C] = Config) -> C:  # type: ignore[assignment]
    """Validate a plain dict (as read from YAML) into a Config; raises ConfigError with readable messages.
    ``model``: the dashboard side passes its own (dashboard/settings.py: the same file, its sections typed)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("configuration must be a mapping of keys to values at the top level")
    try:
        return model.model_validate(expand_env(data, env))
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return data if data is not None else {}


def find_config(path: Path | None) -> Path | None:
    if path is not None:
        return path
    env = os.environ.get("MASKWATCH_CONFIG")
    if env:
        return Path(env)
    return next((p for p in DEFAULT_CONFIG_PATHS if p.exists()), None)


#: top-level sections only the dashboard side (web and ingest) reads, and the sections it reads at all. Each
#: service holds only its own secrets (docs/deploy.md), so a ``${VAR}`` in the other side's sections may be
#: unset for it: see ``own_sections`` of :func:`load_config`.
DASHBOARD_ONLY_SECTIONS = ("dashboard", "notifications", "homeassistant")
DASHBOARD_SECTIONS = ("site", "agent_id", "log_level", "mqtt", *DASHBOARD_ONLY_SECTIONS)


def agent_sections(key: str) -> bool:
    """The top-level sections the agent reads (everything but the dashboard side's)."""
    return key not in DASHBOARD_ONLY_SECTIONS


class _UnsetIsEmpty(dict[str, str]):
    """An environment in which a variable that is not set reads as empty (the key it fills stays unset)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def load_config(path: Path | None = None, env: dict[str, str] | None = None, *,
                own_sections: Callable[[str], bool] | None = None, model: type[C] = Config) -> C:  # type: ignore[assignment]
    """Read and validate; ``path`` None -> $MASKWATCH_CONFIG, ./config.yaml, /etc/maskwatch/config.yaml.

    ``own_sections``: the top-level keys this service reads. A ``${VAR}`` there must be set, as always; one in
    another service's section may be unset here (it reads as empty), because that secret is not this
    service's to hold (the agent has no ``SECRET_KEY``, the dashboard no camera password)."""
    found = find_config(path)
    if found is None:
        raise ConfigError("no config file: pass --config FILE or set MASKWATCH_CONFIG")
    try:
        data = read_config_file(found)
        if own_sections is None or not isinstance(data, dict):
            return parse_config(data, env, model=model)
        base = dict(os.environ) if env is None else env
        expand_env({k: v for k, v in data.items() if own_sections(k)}, base)  # raises for a missing own VAR
        return parse_config(data, _UnsetIsEmpty(base), model=model)
    except ConfigError as err:
        raise ConfigError(f"{found}: {err}") from None
