"""The one config schema (pydantic), validated at start. Reading the file is separate from validating it.

Secrets come from the environment: any string value may be ``${VAR}`` or ``${VAR:-default}``.
A missing variable without a default is a config error naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edge_agent.alerts_config import HomeAssistantConfig, NotificationsConfig, ScheduleConfig
from edge_agent.core.topics import check_name

DEFAULT_CONFIG_PATHS = (Path("config.yaml"), Path("/etc/maskwatch/config.yaml"))
PACKAGED_MODEL = Path(__file__).parent / "models" / "model_card.json"


class ConfigError(Exception):
    """Invalid or unreadable configuration. The entry point prints it and exits with code 2."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


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


# ---------------------------------------------------------------- camera sources
class USBSource(_Section):
    type: Literal["usb"]
    device: int | str = Field(0, description="Device index (0) or path (/dev/video0)")


class RTSPSource(_Section):
    type: Literal["rtsp"]
    url: str = Field(description="rtsp://user:pass@host:554/path; put credentials in ${ENV} references")
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("rtsp://", "rtsps://")):
            raise ValueError("must start with rtsp:// or rtsps://")
        return v


class FileSource(_Section):
    type: Literal["file"]
    path: Path = Field(description="Video file to read")
    loop: bool = Field(False, description="Start again at the end")
    realtime: bool = Field(True, description="Pace reading at the file's frame rate, like a live camera")


class DemoSource(_Section):
    type: Literal["demo"]
    fps: float = Field(15.0, gt=0, le=60, description="Frames per second of the generated scene")
    width: int = Field(1280, ge=160, le=3840)
    height: int = Field(720, ge=120, le=2160)


SourceConfig = Annotated[USBSource | RTSPSource | FileSource | DemoSource, Field(discriminator="type")]


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


# ---------------------------------------------------------------- detection and classification
class CenterFaceConfig(_Section):
    type: Literal["centerface"]
    model: Path | None = Field(None, description="centerface.onnx; default: the file shipped in the package (MIT)")
    runtime: Literal["opencv", "onnxruntime"] = Field(
        "opencv", description="opencv: OpenCV DNN (always installed); onnxruntime: 20-30% less CPU per frame on x86 "
        "(bench/bench_centerface_runtime.py), needs the [onnxruntime] extra (+80 MB on x86)",
    )
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Minimum face score")
    input_scale: float = Field(1.0, gt=0.1, le=4.0, description="Scale the frame by this before detection")
    min_face_px: int = Field(10, ge=1, description="Ignore faces whose shorter side is smaller (frame pixels)")
    nms_iou: float = Field(0.3, gt=0, le=1.0, description="Overlap above which the weaker face is dropped")
    box_adjust: tuple[float, float, float, float] = Field(
        (0.0, 0.12, 1.04, 0.95),
        description="Box calibration [dx, dy, sw, sh]: move the centre by dx*width, dy*height, scale width by sw "
        "and height by sh. The default maps CenterFace boxes to the training annotations' convention (they "
        "include the chin); [0, 0, 1, 1] keeps CenterFace's own boxes. See docs/evaluation.md",
    )
    box_adjust_px: tuple[float, float, float, float] = Field(
        (0.0, 0.0, 0.0, 0.0),
        description="Then [ox, oy, ow, oh] in frame pixels: added to the box centre (x, y), width and height. For "
        "annotations in inclusive pixel coordinates (VOC style); maskwatch detect/eval use [0.5, 0, 1.5, 1.5] "
        "(fitted on andrewmvd training images); at camera face sizes it changes nothing that matters",
    )


class BlazeFaceConfig(_Section):
    type: Literal["blazeface"]
    model: Path | None = Field(None, description="BlazeFace .tflite; default: the file for `range` shipped in the package (Apache-2.0)")
    range: Literal["short", "full"] = Field("full", description="short: faces within ~2 m; full: up to ~5 m")
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    min_face_px: int = Field(10, ge=1)
    nms_iou: float = Field(0.3, gt=0, le=1.0)


class FakeDetectorConfig(_Section):
    """For tests: returns the boxes given here on every frame."""

    type: Literal["fake"]
    boxes: list[tuple[float, float, float, float]] = Field(default_factory=list)
    score: float = 0.9


DetectorConfig = Annotated[CenterFaceConfig | BlazeFaceConfig | FakeDetectorConfig, Field(discriminator="type")]


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


# ---------------------------------------------------------------- dashboard and trainer
class DashboardSecurityConfig(_Section):
    """Login throttle, sessions, reverse proxies and cookies of the web dashboard (docs/deploy.md)."""

    trusted_proxies: list[str] = Field(default_factory=list, description=(
        "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For/-Proto are believed; "
        "empty: the headers are ignored"))
    login_max_failures: int = Field(5, ge=1, description=(
        "Failed logins from one address for one user name before that pair must wait"))
    login_max_failures_per_address: int = Field(20, ge=1, description=(
        "Failed logins from one address (any names) before the address is banned"))
    login_window_minutes: float = Field(15.0, gt=0, description="Failures count this long; a ban lasts this long")
    session_lifetime_h: float = Field(12.0, gt=0, le=24 * 90, description="A login lasts this long")
    cookie_secure: Literal["auto", "always", "never"] = Field("auto", description=(
        "Secure cookies: auto = when the request came over HTTPS (directly or from a trusted proxy)"))

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _from_env(cls, v: Any) -> Any:
        """``${MASKWATCH_TRUSTED_PROXIES}`` gives a comma-separated string, or nothing."""
        if v is None:
            return []
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for n in v:
            try:
                ipaddress.ip_network(n, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {n!r} is not an IP address or network (e.g. 127.0.0.1, "
                                 "10.0.0.0/8)") from None
        return v


class RetentionConfig(_Section):
    """How long the dashboard keeps each kind of data (days); enforced on disk, in the database and on the
    broker by every retention run (hourly in the ingest, or ``maskwatch dashboard purge``)."""

    snapshots_days: int = Field(7, ge=1, description="Violation snapshot JPEGs (files and rows)")
    review_crops_days: int = Field(7, ge=1, description="Face crops kept for review / retraining")
    events_days: int = Field(30, ge=1, description="Violation events (no image) and raw stats samples")
    statistics_days: int = Field(1825, ge=1, description="Hourly counts (no image, no person): the statistics pages")
    access_log_days: int = Field(90, ge=1, description="Access log: who viewed or downloaded what")
    preview_max_age_s: int = Field(300, ge=10, description="A camera's latest preview frame is deleted when no "
                                   "newer one came for this long")


class DashboardConfig(_Section):
    database_url: str = Field("sqlite:///var/dashboard.sqlite3", description="SQLAlchemy URL; SQLite or PostgreSQL")
    snapshot_dir: Path = Field(Path("var/snapshots"), description="Where snapshot JPEGs are stored")
    preview_dir: Path | None = Field(None, description="The latest preview frame per camera (one file each, "
                                     "replaced in place); keep it out of backups (the installer uses /var/cache). "
                                     "Default: 'live' beside snapshot_dir")
    secret_key: SecretStr | None = Field(None, description="Flask secret key; use ${MASKWATCH_SECRET_KEY}")
    host: str = Field("127.0.0.1", description="Listen address")
    port: int = Field(8080, ge=1, le=65535)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    retention_days: int | None = Field(None, ge=1, description="Deprecated: sets retention.events_days")
    timezone: str = Field("UTC", description="IANA time zone for the dashboard's days and hours (e.g. Europe/Berlin)")
    site_timezones: dict[str, str] = Field(
        default_factory=dict,
        description="Time zone per site (site name -> IANA zone, e.g. {jakarta: Asia/Jakarta}); a site not "
                    "listed uses dashboard.timezone")
    ingest_group: str | None = Field(None, description="MQTT v5 shared subscription group ($share/<group>/...)")
    mqtt_username: str | None = Field(None, description="Dashboard's broker user; ${MASKWATCH_DASHBOARD_MQTT_USER}")
    mqtt_password: SecretStr | None = Field(None, description="${MASKWATCH_DASHBOARD_MQTT_PASSWORD}")
    metrics_port: int | None = Field(9102, ge=1, le=65535, description="The ingest process serves Prometheus "
                                     "/metrics on metrics_host:PORT; null = off")
    metrics_host: str = Field("127.0.0.1", description="Address of the ingest's /metrics (loopback by default)")
    security: DashboardSecurityConfig = Field(default_factory=lambda: DashboardSecurityConfig())

    @model_validator(mode="after")
    def _legacy_retention(self) -> DashboardConfig:
        if self.retention_days is not None and "events_days" not in self.retention.model_fields_set:
            self.retention = self.retention.model_copy(update={"events_days": self.retention_days})
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as UTC or Europe/Berlin") from None
        return v

    @field_validator("site_timezones")
    @classmethod
    def _site_tz(cls, v: dict[str, str]) -> dict[str, str]:
        for site, zone in v.items():
            try:
                cls._tz(zone)
            except ValueError as err:
                raise ValueError(f"site {site!r}: {err}") from None
        return v


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
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)

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


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("usb", "rtsp", "file", "demo", "centerface", "blazeface", "fake"):
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


def parse_config(data: dict[str, Any] | None, env: dict[str, str] | None = None) -> Config:
    """Validate a plain dict (as read from YAML) into a Config; raises ConfigError with readable messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("configuration must be a mapping of keys to values at the top level")
    try:
        return Config.model_validate(expand_env(data, env))
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
                own_sections: Callable[[str], bool] | None = None) -> Config:
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
            return parse_config(data, env)
        base = dict(os.environ) if env is None else env
        expand_env({k: v for k, v in data.items() if own_sections(k)}, base)  # raises for a missing own VAR
        return parse_config(data, _UnsetIsEmpty(base))
    except ConfigError as err:
        raise ConfigError(f"{found}: {err}") from None
