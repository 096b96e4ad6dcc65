"""Notification rules: which new events become messages, and for which channels (no network here).

:class:`Planner` runs inside the ingest transaction that inserts the events (``Store.on_new_events``), so a
notification row exists exactly when its event was committed; :mod:`dashboard.notifier` delivers them
afterwards in its own thread. Per rule and camera, the first matching event is sent at once; further
events within ``cooldown_s`` are *held*, and when the cool-down ends one digest summarises them (or they
stay ``skipped`` with the reason, when the rule has no digest). Nothing is dropped without a row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Table, func, select, update

from dashboard.alerts_settings import NotificationsConfig, RuleConfig
from dashboard.models import Camera, Notification
from dashboard.notify_text import text
from dashboard.zones import SiteZones
from edge_agent.events import ViolationEvent

log = logging.getLogger(__name__)
NOTIFICATIONS: Table = Notification.__table__  # type: ignore[assignment]
CAMERAS: Table = Camera.__table__  # type: ignore[assignment]
SENDING_KINDS = ("event", "digest")  # the kinds that start a cool-down


@dataclass(frozen=True, slots=True)
class NewEvent:
    event: ViolationEvent
    camera_id: int


def event_link(cfg: NotificationsConfig, event_id: str) -> str | None:
    return f"{cfg.base_url.rstrip('/')}/events/{event_id}" if cfg.base_url else None


def event_message(cfg: NotificationsConfig, e: ViolationEvent, tz: str, lang: str = "en") -> tuple[str, str]:
    return text(lang).event(e.verdict, e.site, e.camera, e.time, tz, e.confidence, event_link(cfg, e.event_id))


def matches(rule: RuleConfig, e: ViolationEvent, tz: str) -> bool:
    return ((not rule.sites or e.site in rule.sites) and (not rule.cameras or e.camera in rule.cameras)
            and e.verdict in rule.verdicts and rule.schedule.is_active(e.time, tz))


class Planner:
    def __init__(self, cfg: NotificationsConfig, zones: SiteZones | str = "UTC") -> None:
        self.cfg = cfg
        self.zones = SiteZones.of_any(zones)

    def last_sent(self, conn: Connection, rule: str, camera_id: int) -> datetime | None:
        t = conn.execute(select(func.max(NOTIFICATIONS.c.created_at)).where(
            NOTIFICATIONS.c.rule == rule, NOTIFICATIONS.c.camera_id == camera_id,
            NOTIFICATIONS.c.kind.in_(SENDING_KINDS))).scalar()
        return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))

    def plan(self, conn: Connection, events: Sequence[NewEvent], now: datetime | None = None) -> int:
        """Insert notification rows for newly stored events; returns how many are to be sent now."""
        if not self.cfg.enabled:
            return 0
        now = now or datetime.now(UTC)
        due = 0
        muted = {cid for cid, on in conn.execute(select(CAMERAS.c.id, CAMERAS.c.notifications_enabled).where(
            CAMERAS.c.id.in_({n.camera_id for n in events}))) if on is False}
        for ne in sorted(events, key=lambda n: n.event.time):
            e = ne.event
            if ne.camera_id in muted:  # switched off (.../notifications/set): no rows, counted by the caller
                continue
            tz = self.zones.of(e.site)
            for rule in self.cfg.rules:
                if not matches(rule, e, tz):
                    continue
                last = self.last_sent(conn, rule.name, ne.camera_id)
                cooling = last is not None and now - last < timedelta(seconds=rule.cooldown_s)
                status = "pending" if not cooling else "held" if rule.digest else "skipped"
                for ch in rule.channels:
                    title, body = event_message(self.cfg, e, tz, self.cfg.language_of(ch))
                    conn.execute(NOTIFICATIONS.insert(), {
                        "kind": "event", "rule": rule.name, "channel": ch, "status": status, "event_id": e.event_id,
                        "camera_id": ne.camera_id, "title": title, "body": body, "created_at": now, "next_at": now,
                        "tries": 0, "last_error": "cool-down (no digest)" if status == "skipped" else None})
                due += len(rule.channels) if status == "pending" else 0
        return due

    def digests(self, conn: Connection, now: datetime | None = None) -> int:
        """Turn held events whose cool-down has ended into one digest per rule, channel and camera."""
        now = now or datetime.now(UTC)
        rules = {r.name: r for r in self.cfg.rules if r.digest}
        made = 0
        lasts: dict[tuple[str, int], datetime | None] = {}  # read before any digest of this pass is written
        groups = conn.execute(
            select(NOTIFICATIONS.c.rule, NOTIFICATIONS.c.channel, NOTIFICATIONS.c.camera_id,
                   func.count(), func.min(NOTIFICATIONS.c.created_at))
            .where(NOTIFICATIONS.c.status == "held")
            .group_by(NOTIFICATIONS.c.rule, NOTIFICATIONS.c.channel, NOTIFICATIONS.c.camera_id)).all()
        for rule_name, channel, camera_id, count, first in groups:
            rule = rules.get(rule_name)
            if rule is None:  # the rule was removed or lost its digest: its held rows end as skipped
                conn.execute(update(NOTIFICATIONS).where(NOTIFICATIONS.c.rule == rule_name,
                                                         NOTIFICATIONS.c.status == "held")
                             .values(status="skipped", last_error="rule without digest"))
                continue
            if (rule_name, camera_id) not in lasts:
                lasts[(rule_name, camera_id)] = self.last_sent(conn, rule_name, camera_id)
            last = lasts[(rule_name, camera_id)]
            if last is not None and now - last < timedelta(seconds=rule.cooldown_s):
                continue
            site, cam = conn.execute(select(CAMERAS.c.site, CAMERAS.c.name)
                                     .where(CAMERAS.c.id == camera_id)).one()
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            minutes = max(1, round((now - first).total_seconds() / 60))
            link = f"{self.cfg.base_url.rstrip('/')}/violations?camera={camera_id}" if self.cfg.base_url else None
            title, body = text(self.cfg.language_of(channel)).digest(count, site, cam, first, minutes,
                                                                     self.zones.of(site), link)
            res = conn.execute(NOTIFICATIONS.insert().returning(NOTIFICATIONS.c.id), {
                "kind": "digest", "rule": rule_name, "channel": channel, "status": "pending", "event_id": None,
                "camera_id": camera_id, "title": title, "body": body, "created_at": now, "next_at": now,
                "tries": 0, "last_error": None})
            digest_id = res.scalar_one()
            conn.execute(update(NOTIFICATIONS).where(
                NOTIFICATIONS.c.status == "held", NOTIFICATIONS.c.rule == rule_name,
                NOTIFICATIONS.c.channel == channel, NOTIFICATIONS.c.camera_id == camera_id)
                .values(status="digested", last_error=f"in digest {digest_id}"))
            made += 1
        return made
