"""The dashboard's alert sections: ``notifications`` (sent by the ingest through apprise) and ``homeassistant``
(MQTT discovery). Only the dashboard side reads them (the agent passes them through; see dashboard/settings.py).

apprise is a dashboard dependency: where it is installed, channel URLs are checked when the config is validated
(so ``maskwatch config check`` catches a bad one); the dashboard checks again at start either way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from edge_agent.alerts_config import ScheduleConfig
from edge_agent.config import Section
from edge_agent.core.labels import VIOLATIONS
from edge_agent.core.topics import check_name

# ---------------------------------------------------------------- notifications
NotificationLanguage = Literal["en", "id"]  # the dashboard's languages (dashboard.i18n.LANGUAGES)


class ChannelConfig(Section):
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


class RuleConfig(Section):
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


class RetryConfig(Section):
    attempts: int = Field(6, ge=1, le=50, description="Tries per notification before it is marked failed")
    backoff_s: float = Field(2.0, gt=0, le=3600, description="Wait before the 2nd try; doubles each time")
    max_backoff_s: float = Field(300.0, gt=0, le=86400, description="Longest wait between tries")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Network timeout of one try")


class NotificationsConfig(Section):
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
class HomeAssistantConfig(Section):
    enabled: bool = Field(False, description="Publish Home Assistant MQTT discovery (retained) from the dashboard")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix")
    violation_on_s: int = Field(30, ge=1, le=3600, description="The violation binary sensor stays on this long")
    snapshot: bool = Field(True, description="Image entity with the latest violation snapshot (never in a "
                           "no-images privacy mode; cleared when images expire)")
    snapshot_expire_s: int = Field(3600, ge=60, description="Clear the retained latest-violation image after this")
