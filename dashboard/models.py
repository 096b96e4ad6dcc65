"""SQLAlchemy 2.0 models. Every timestamp is UTC, stored naive (``UTCDateTime`` converts at the edge).

Schema changes go through Alembic (``dashboard/migrations``); a test checks the models and the
migrations agree.

Statistics pages read :class:`HourlyCount` (one row per camera and UTC hour), kept up to date by the
ingest as events and stats arrive, so a page over millions of events reads a few thousand rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")
    # roles and sites (dashboard/access.py): admin | operator | viewer; existing users migrated to admin
    role: Mapped[str] = mapped_column(String(16), default="viewer", server_default="admin")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None: the browser's language
    site_rows: Mapped[list[UserSite]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    sessions: Mapped[list[UserSession]] = relationship(cascade="all, delete-orphan")

    # flask-login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return not self.disabled

    @property
    def sites(self) -> list[str]:
        """Sites this user may see; ``["*"]``: all sites."""
        return sorted(r.site for r in self.site_rows)

    def get_id(self) -> str:
        return str(self.id)


class UserSite(Base):
    """A site a (non-admin) user may see; site ``*`` means every site."""

    __tablename__ = "user_sites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditEntry(Base):
    """Who did what, when: admin and review actions (written by dashboard/audit.py ``record``)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_time", "time"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class ApiToken(Base):
    """Bearer token for machine clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # issue 18: tokens expire (None: never) and carry a scope ("read": GET/HEAD only, "write": any method)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    scope: Mapped[str] = mapped_column(String(16), default="read", server_default="read")
    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """A logged-in browser session (server side, so logout, password change and "log out everywhere" end it).

    The cookie holds a random id; only its SHA-256 is stored here."""

    __tablename__ = "user_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """One failed login (source address and the lower-cased name tried), kept for the throttle's window.

    Stored in the database so every web process shares it and a restart forgets nothing."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_ip_at", "ip", "at"), Index("ix_login_failures_at", "at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))


class Agent(Base):
    """An edge agent's availability (retained ``available`` topic)."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    availability: Mapped[str] = mapped_column(String(16))  # online | offline | stopped
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Camera(Base):
    """A camera as (site, name); created on the first message that names it."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="unknown")  # online | offline | unknown
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # from the agent's latest stats: its outbox backlog and the messages the broker refused (dead letters)
    agent_backlog: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_dead_letters: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # runtime switches as the agent last announced them (retained .../state); None = not announced
    detection_enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    notifications_enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    @property
    def label(self) -> str:
        return f"{self.site}/{self.name}"


class Event(Base):
    """One violation event, unique by the agent's event_id (a replayed backlog is a no-op)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_id_time", "camera_id", "time"),
        Index("ix_events_camera_id_verdict_time", "camera_id", "verdict", "time"),
        Index("ix_events_verdict_time", "verdict", "time"),
        Index("ix_events_time", "time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    agent: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # retention's time basis
    # the agent's own time stamp when it was out of bounds and ``time`` is the receive time (clock_bounds)
    agent_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    verdict: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    track_id: Mapped[int] = mapped_column(Integer)
    votes: Mapped[int] = mapped_column(Integer)
    box: Mapped[str] = mapped_column(String(64))  # "x1,y1,x2,y2"
    frame_w: Mapped[int] = mapped_column(Integer)
    frame_h: Mapped[int] = mapped_column(Integer)
    # issue 17: best-shot revisions and the review loop
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # highest revision received
    snapshot_region: Mapped[str | None] = mapped_column(String(64), nullable=True)  # "x1,y1,x2,y2" of the frame
    review: Mapped[str | None] = mapped_column(String(16), nullable=True)  # confirmed | false_positive | relabelled
    review_label: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the right label when relabelled
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    camera: Mapped[Camera] = relationship(lazy="joined")


class Snapshot(Base):
    """A violation's JPEG on disk; keyed by event_id because it may arrive before its event."""

    __tablename__ = "snapshots"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)  # relative to the snapshot directory
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # a higher one replaces it


class FaceCrop(Base):
    """The violator's face at full resolution (opt-in on the agent), kept for review and retraining."""

    __tablename__ = "face_crops"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)  # relative to the snapshot directory
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StatSample(Base):
    """One periodic stats message; unique per camera and time so a replay is a no-op."""

    __tablename__ = "stat_samples"
    __table_args__ = (UniqueConstraint("camera_id", "time"), Index("ix_stat_samples_time", "time"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_s: Mapped[float] = mapped_column(Float)
    with_mask: Mapped[int] = mapped_column(Integer)
    without_mask: Mapped[int] = mapped_column(Integer)
    mask_incorrect: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    inference_ms: Mapped[float] = mapped_column(Float)
    dropped_frames: Mapped[int] = mapped_column(Integer)


class HourlyCount(Base):
    """Pre-aggregated counts per camera and UTC hour: people (from stats) and violation events."""

    __tablename__ = "hourly_counts"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    people_with_mask: Mapped[int] = mapped_column(Integer, default=0)
    people_without_mask: Mapped[int] = mapped_column(Integer, default=0)
    people_mask_incorrect: Mapped[int] = mapped_column(Integer, default=0)
    events_without_mask: Mapped[int] = mapped_column(Integer, default=0)
    events_mask_incorrect: Mapped[int] = mapped_column(Integer, default=0)


class IngestCounter(Base):
    """Counters (accepted, duplicates, rejected by reason) per ingest process, written periodically."""

    __tablename__ = "ingest_counters"

    ingester: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notification(Base):
    """One message for one channel (an event's alert, a digest, a test), and the queue the notifier works
    through: ``pending`` until sent or out of tries; ``held`` events wait for their rule's digest.

    status: pending | sent | failed | held | digested | skipped."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next_at", "status", "next_at"),
        Index("ix_notifications_rule_camera_id_created_at", "rule", "camera_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # event | digest | test
    rule: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class NotificationAttempt(Base):
    """Every try to deliver a notification: when, whether it worked, and why not."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AccessLog(Base):
    """Who viewed or downloaded personal data, and when: snapshots, event pages, CSV exports, live views
    (docs/privacy.md). Separate from the audit log of administrative changes; kept under
    ``dashboard.retention.access_log_days``. ``user`` is the name, so the record survives the user."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
