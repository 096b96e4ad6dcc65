"""Active-hours schedules: a camera's (the agent's) and a notification rule's (the dashboard's,
dashboard/alerts_settings.py, which holds the ``notifications`` and ``homeassistant`` sections).
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
