"""Config sections for alerts: notifications (sent by the dashboard through apprise), active-hours
schedules (used by the agent and by notification rules) and Home Assistant discovery.

Kept apart from :mod:`edge_agent.config` so that file only gains three fields. apprise is a dashboard
dependency: where it is installed, channel URLs are checked when the config is validated (so
``maskwatch config check`` catches a bad one); the dashboard checks again at start either way.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from edge_agent.core.labels import VIOLATIONS
from edge_agent.core.topics import check_name

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _parse_span(span: str) -> tuple[time, time | None]:
    m = _SPAN.match(span)
    if not m:
        raise ValueError(f"{span!r} is not a time span: use HH:MM-HH:MM (24 h), e.g. 08:00-18:00 or 22:00-06:00")
    start = time(int(m.group(1)), int(m.group(2)))
    end = None if m.group(3) == "24" else time(int(m.group(3)), int(m.group(4)))
    return start, end


class ScheduleConfig(_Section):
    """Active hours. Empty ``hours`` means always active."""

    hours: list[str] = Field(default_factory=list, description="Active spans HH:MM-HH:MM in local time (a span "
                             "may cross midnight: 22:00-06:00); empty = all day")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(DAYS), description="Days on which the spans apply (the day a span starts)")
    timezone: str | None = Field(None, description="IANA time zone; default: the site's (dashboard.timezone)")

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for span in v:
            _parse_span(span)
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (KeyError, ValueError):
                raise ValueError(f"unknown time zone {v!r}; use an IANA name such as UTC or Asia/Jakarta") from None
        return v

    def is_active(self, when: datetime, default_tz: str = "UTC") -> bool:
        """Whether ``when`` (aware) falls in an active span, in this schedule's (or the site's) time zone."""
        if not self.hours:
            return True
        local = when.astimezone(ZoneInfo(self.timezone or default_tz))
        t = local.time().replace(tzinfo=None)
        day = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        for span in self.hours:
            start, end = _parse_span(span)
            if end is None or start < end:  # same-day span
                if day in self.days and start <= t and (end is None or t < end):
                    return True
            else:  # crosses midnight: the evening part today, the morning part belongs to yesterday's span
                if (day in self.days and t >= start) or (yesterday in self.days and t < end):
                    return True
        return False


# ---------------------------------------------------------------- notifications
NotificationLanguage = Literal["en", "id"]  # the dashboard's languages (dashboard.i18n.LANGUAGES)


class ChannelConfig(_Section):
    url: SecretStr = Field(description="apprise URL (ntfy://, tgram://, mailtos://, gotify://, json://, ...); "
                           "put tokens and passwords in ${ENV} references. Never logged")
    attach_snapshot: bool = Field(True, description="Attach the violation's snapshot where the service takes one")
    language: NotificationLanguage | None = Field(None, description="Language of this channel's messages "
                                                  "(en or id); default: notifications.language")

    @field_validator("url")
    @classmethod
    def _url(cls, v: SecretStr) -> SecretStr:
        problem = apprise_url_problem(v.get_secret_value())
        if problem:
            raise ValueError(problem)
        return v


def apprise_url_problem(url: str) -> str | None:
    """Why apprise would not accept ``url`` (None if it does, or if apprise is not installed here)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        return "not an apprise URL: expected SCHEME://..., e.g. ntfy://topic or json://host:port/path"
    try:
        import apprise
    except ImportError:  # an agent-only install: the dashboard checks at start
        return None
    if not apprise.Apprise().add(url):
        return (f"apprise does not accept this {scheme}:// URL (unknown service or missing parts); see "
                "https://github.com/caronc/apprise/wiki for each service's URL form")
    return None


class RuleConfig(_Section):
    name: str = Field(description="Rule name, shown in the delivery log")
    channels: list[str] = Field(min_length=1, description="Names of notifications.channels to send to")
    sites: list[str] = Field(default_factory=list, description="Only these sites; empty = all")
    cameras: list[str] = Field(default_factory=list, description="Only these cameras; empty = all")
    verdicts: list[str] = Field(default_factory=lambda: sorted(VIOLATIONS),
                                description=f"Verdicts that notify; allowed: {', '.join(sorted(VIOLATIONS))}")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="When this rule notifies")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="After a notification for a camera, further "
                              "events of that camera are held for this long (0 = notify every event)")
    digest: bool = Field(True, description="At the end of a cool-down, send one summary of the held events "
                         "(\"5 violations at door in 5 min\"); false: held events are only logged")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name("rule name", v)

    @field_validator("verdicts")
    @classmethod
    def _verdicts(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in VIOLATIONS]
        if bad:
            raise ValueError(f"unknown verdict {bad[0]!r}; allowed: {', '.join(sorted(VIOLATIONS))}")
        return v


class RetryConfig(_Section):
    attempts: int = Field(6, ge=1, le=50, description="Tries per notification before it is marked failed")
    backoff_s: float = Field(2.0, gt=0, le=3600, description="Wait before the 2nd try; doubles each time")
    max_backoff_s: float = Field(300.0, gt=0, le=86400, description="Longest wait between tries")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Network timeout of one try")


class NotificationsConfig(_Section):
    enabled: bool = Field(False, description="Send notifications from the dashboard's ingest process")
    language: NotificationLanguage = Field("en", description="Language of the messages (title, body, e-mail "
                                           "subject, digest, test): en (English) or id (Bahasa Indonesia)")
    base_url: str | None = Field(None, description="Dashboard address for links in messages, e.g. "
                                 "https://dashboard.example:8080 (no link if unset)")
    channels: dict[str, ChannelConfig] = Field(default_factory=dict, description="Named apprise channels")
    rules: list[RuleConfig] = Field(default_factory=list, description="Which events go to which channels")
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, v: dict[str, ChannelConfig]) -> dict[str, ChannelConfig]:
        for name in v:
            check_name("channel name", name)
        return v

    @model_validator(mode="after")
    def _rule_channels(self) -> NotificationsConfig:
        for i, rule in enumerate(self.rules):
            missing = [c for c in rule.channels if c not in self.channels]
            if missing:
                raise ValueError(f"rules[{i}].channels: unknown channel {missing[0]!r}; defined: "
                                 f"{', '.join(sorted(self.channels)) or '(none)'}")
        return self

    def language_of(self, channel: str) -> str:
        """The language of ``channel``'s messages (its own ``language``, else ``notifications.language``)."""
        ch = self.channels.get(channel)
        return (ch.language if ch is not None else None) or self.language


# ---------------------------------------------------------------- Home Assistant
class HomeAssistantConfig(_Section):
    enabled: bool = Field(False, description="Publish Home Assistant MQTT discovery (retained) from the dashboard")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix")
    violation_on_s: int = Field(30, ge=1, le=3600, description="The violation binary sensor stays on this long")
    snapshot: bool = Field(True, description="Image entity with the latest violation snapshot (never in a "
                           "no-images privacy mode; cleared when images expire)")
    snapshot_expire_s: int = Field(3600, ge=60, description="Clear the retained latest-violation image after this")
