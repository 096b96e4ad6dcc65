"""The dashboard side's settings: the models of its config sections (``dashboard``, ``notifications``,
``homeassistant``), the whole file as the web and ingest processes read it (:class:`Settings`), and the Flask
settings derived from it (:func:`flask_settings`, :data:`DEFAULTS`).

There is one config file for every service. The agent's :class:`edge_agent.config.Config` passes these sections
through unread (the agent imports nothing from the dashboard); :class:`Settings` is the same schema with them
typed, so ``maskwatch config check`` and the dashboard validate every key, and errors name it. Reading files
happens here (:func:`load_settings`, for the CLI); ``create_app(settings)`` reads none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from dashboard.alerts_settings import HomeAssistantConfig, NotificationsConfig
from edge_agent.config import (
    DASHBOARD_SECTIONS,
    Config,
    DashboardSection,
    Section,
    check_timezone,
    load_config,
    parse_config,
)


class DashboardSecurityConfig(Section):
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


class RetentionConfig(Section):
    """How long the dashboard keeps each kind of data (days); enforced on disk, in the database and on the
    broker by every retention run (hourly in the ingest, or ``maskwatch dashboard purge``)."""

    snapshots_days: int = Field(7, ge=1, description="Violation snapshot JPEGs (files and rows)")
    review_crops_days: int = Field(7, ge=1, description="Face crops kept for review / retraining")
    events_days: int = Field(30, ge=1, description="Violation events (no image) and raw stats samples")
    statistics_days: int = Field(1825, ge=1, description="Hourly counts (no image, no person): the statistics pages")
    access_log_days: int = Field(90, ge=1, description="Access log: who viewed or downloaded what")
    preview_max_age_s: int = Field(300, ge=10, description="A camera's latest preview frame is deleted when no "
                                   "newer one came for this long")


class DashboardConfig(DashboardSection):
    # The ``dashboard`` section (web and ingest); no docstring, so the generated schema has no description.
    # ``timezone`` is declared in the agent's view of it (edge_agent.config.DashboardSection): the one key the
    # agent reads (the cameras' schedules).

    model_config = ConfigDict(extra="forbid")

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
    site_timezones: dict[str, str] = Field(
        default_factory=dict,
        description="Time zone per site (site name -> IANA zone, e.g. {jakarta: Asia/Jakarta}); a site not "
                    "listed uses dashboard.timezone")
    ingest_group: str | None = Field(None, description="Not recommended: MQTT v5 shared subscription group "
                                     "($share/<group>/...); mosquitto 2.0.11 loses messages with it across a "
                                     "restart. Use ingest_partition (docs/mqtt.md, Scale-out)")
    ingest_partition: str | None = Field(None, pattern=r"^\d+/\d+$", description="'I/N': this ingest worker "
                                         "stores partition I of N (by camera/agent) from its own persistent "
                                         "subscription; null = store everything (docs/mqtt.md, Scale-out)")
    camera_claim_s: float | None = Field(300.0, gt=0, description="A camera belongs to the agent that reports "
                                         "it: another agent's events, stats and status for it are refused "
                                         "(rejected_agent_mismatch) while the owner is online and reported it "
                                         "within this many seconds; null = no check (docs/mqtt.md)")
    mqtt_username: str | None = Field(None, description="Dashboard's broker user; ${MASKWATCH_DASHBOARD_MQTT_USER}")
    mqtt_password: SecretStr | None = Field(None, description="${MASKWATCH_DASHBOARD_MQTT_PASSWORD}")
    metrics_port: int | None = Field(9102, ge=1, le=65535, description="The ingest process serves Prometheus "
                                     "/metrics on metrics_host:PORT; null = off")
    metrics_host: str = Field("127.0.0.1", description="Address of the ingest's /metrics (loopback by default)")
    security: DashboardSecurityConfig = Field(default_factory=lambda: DashboardSecurityConfig())

    @model_validator(mode="after")
    def _partition(self) -> DashboardConfig:
        if self.ingest_partition is not None:
            from dashboard.ingest_partition import Partition

            Partition.parse(self.ingest_partition)  # ValueError: "... the index must be 0..N-1"
            if self.ingest_group:
                raise ValueError("ingest_partition and ingest_group exclude each other; use ingest_partition")
        return self

    @model_validator(mode="after")
    def _legacy_retention(self) -> DashboardConfig:
        if self.retention_days is not None and "events_days" not in self.retention.model_fields_set:
            self.retention = self.retention.model_copy(update={"events_days": self.retention_days})
        return self

    @field_validator("site_timezones")
    @classmethod
    def _site_tz(cls, v: dict[str, str]) -> dict[str, str]:
        for site, zone in v.items():
            try:
                check_timezone(zone)
            except ValueError as err:
                raise ValueError(f"site {site!r}: {err}") from None
        return v


class Settings(Config):
    # The whole config file as the dashboard side reads it: the agent's schema with the dashboard's sections
    # typed. (A comment, not a docstring: the generated docs/config.schema.json stays the file's schema.)

    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)  # type: ignore[assignment]
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)  # type: ignore[assignment]


def parse_settings(data: dict[str, Any] | None, env: dict[str, str] | None = None) -> Settings:
    """A plain dict (as read from YAML) validated into :class:`Settings` (ConfigError naming the key)."""
    return parse_config(data, env, model=Settings)


def load_settings(path: Path | None = None) -> Settings:
    """The config file as the dashboard and the ingest read it (found as the CLI does: ``path``,
    $MASKWATCH_CONFIG, ./config.yaml, /etc/maskwatch/config.yaml). ``${VAR}``s outside their sections (a camera's
    password in ``cameras``, which only the agent's env file holds) may be unset (docs/deploy.md)."""
    return load_config(path, own_sections=lambda k: k in DASHBOARD_SECTIONS, model=Settings)


# ---------------------------------------------------------------- Flask settings
def flask_settings(cfg: Settings) -> dict[str, Any]:
    """Flask settings (``app.config``) from the config: the ``dashboard``, ``mqtt`` and ``privacy`` sections."""
    d, m = cfg.dashboard, cfg.mqtt
    sec = d.security
    return {
        "DATABASE_URL": d.database_url,
        "SNAPSHOT_DIR": str(d.snapshot_dir),
        "SECRET_KEY": d.secret_key.get_secret_value() if d.secret_key else None,
        "TIMEZONE": d.timezone,
        "SITE_TIMEZONES": dict(d.site_timezones),  # site -> IANA zone; others use TIMEZONE
        "PREVIEW_DIR": str(d.preview_dir) if d.preview_dir else None,  # None: "live" beside SNAPSHOT_DIR
        "RETENTION": d.retention,
        "PRIVACY": {"mode": cfg.privacy.mode, "cameras": {c.name: cfg.privacy_mode(c) for c in cfg.cameras}},
        "TOPIC_PREFIX": m.topic_prefix,
        "NOTIFICATIONS": cfg.notifications,
        # the web process's MQTT commands (dashboard.switches)
        "MQTT_HOST": m.host, "MQTT_PORT": m.port, "MQTT_USERNAME": d.mqtt_username,
        "MQTT_PASSWORD": d.mqtt_password.get_secret_value() if d.mqtt_password else None, "MQTT_TLS": m.tls,
        "MQTT_PROTOCOL": m.protocol,
        # dashboard.security
        "TRUSTED_PROXIES": list(sec.trusted_proxies),
        "LOGIN_MAX_FAILURES": sec.login_max_failures,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": sec.login_max_failures_per_address,
        "LOGIN_WINDOW_S": sec.login_window_minutes * 60,
        "PERMANENT_SESSION_LIFETIME": int(sec.session_lifetime_h * 3600),
        "COOKIE_SECURE": sec.cookie_secure,
    }


#: Flask settings that are no config key (the app's own constants; tests override some)
FLASK_ONLY: dict[str, Any] = {
    "LIVE_MAX_FPS": 8,  # the camera page polls live.jpg at most this often (while frames change)
    "PER_PAGE": 50,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # True (MASKWATCH_COOKIE_SECURE=1): always; else COOKIE_SECURE decides
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead
    "SESSION_REFRESH_EACH_REQUEST": False,  # the session's lifetime is kept server side (user_sessions)
}

#: every Flask setting with its default: the model's defaults (an empty config file) and :data:`FLASK_ONLY`
DEFAULTS: dict[str, Any] = {**FLASK_ONLY, **flask_settings(Settings())}
