"""Bounds on the times agents stamp their messages with: the ingest does not trust a clock it cannot check.

A Pi without a real-time clock can boot with a stale time (and before NTP, stamp events days in the past),
or with a wrong one far in the future. A status stamped 2099 would freeze its camera's state (later real
ones look older); an event stamped 40 days ago would be purged by the next retention run; a future-dated one
never. So a message whose time is more than :data:`MAX_FUTURE` ahead of its receive time, or more than
:data:`MAX_PAST` behind it (longer than an agent's outbox keeps anything), is stored with its **receive time**
and flagged: events keep the agent's own time in ``events.agent_time`` and the ingest counts
``time_clamped``. Retention uses the receive time for events and snapshots alike (dashboard.retention).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dashboard.messages import EventMsg, Message, StatsMsg, StatusMsg

#: clocks of agents and dashboard may differ a little; more than this ahead is a wrong clock
MAX_FUTURE = timedelta(minutes=5)
#: the agent's outbox keeps messages at most 7 days (queue.max_age_h default 168): older cannot be real
MAX_PAST = timedelta(days=8)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def out_of_bounds(t: datetime, received: datetime) -> bool:
    t = _aware(t)
    return t > received + MAX_FUTURE or t < received - MAX_PAST


def bound(m: Message, received: datetime) -> tuple[Message, bool]:
    """``m`` with its time replaced by ``received`` when out of bounds; True when it was."""
    if isinstance(m, EventMsg) and out_of_bounds(m.event.time, received):
        return replace(m, event=m.event.model_copy(update={"time": received}), agent_time=m.event.time), True
    if isinstance(m, StatsMsg) and out_of_bounds(m.stats.time, received):
        return replace(m, stats=m.stats.model_copy(update={"time": received})), True
    if isinstance(m, StatusMsg) and out_of_bounds(m.status.time, received):
        return replace(m, status=m.status.model_copy(update={"time": received})), True
    return m, False
