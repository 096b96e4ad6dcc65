"""Read-side queries shared by the pages and the JSON API: filters parsed once, one definition of each query."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dashboard.event_shape import payload_json
from dashboard.models import Agent, Camera, Event, Snapshot
from dashboard.statistics import Tally, today_by_camera
from edge_agent.core.labels import VIOLATION_LABELS

VIOLATION_VERDICTS = VIOLATION_LABELS
MAX_PER_PAGE = 500


class FilterError(ValueError):
    """A query parameter that cannot be understood; the message names it."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    camera_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    verdict: str | None = None
    page: int = 1
    per_page: int = 50
    sites: tuple[str, ...] | None = None  # the sites the user may see (None: all); set by the view, not the URL

    @classmethod
    def from_args(cls, args: Mapping[str, str], tz: str, per_page: int = 50) -> EventFilter:
        """Parse ``camera``, ``since``, ``until`` (ISO 8601; without an offset: local time), ``verdict``,
        ``page``, ``per_page``. Empty values mean "no filter"."""
        def integer(name: str, default: int | None, lo: int, hi: int) -> int | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return default
            try:
                v = int(raw)
            except ValueError:
                raise FilterError(f"{name}: not a whole number: {raw!r}") from None
            if not lo <= v <= hi:
                raise FilterError(f"{name}: must be between {lo} and {hi}, got {v}")
            return v

        def when(name: str) -> datetime | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise FilterError(f"{name}: not an ISO 8601 date/time: {raw!r}") from None
            if t.tzinfo is None:
                t = t.replace(tzinfo=ZoneInfo(tz))
            return t.astimezone(UTC)

        verdict = (args.get("verdict") or "").strip() or None
        if verdict is not None and verdict not in VIOLATION_VERDICTS:
            raise FilterError(f"verdict: must be one of {', '.join(VIOLATION_VERDICTS)}, got {verdict!r}")
        return cls(
            camera_id=integer("camera", None, 1, 2**31 - 1),
            since=when("since"),
            until=when("until"),
            verdict=verdict,
            page=integer("page", 1, 1, 10**6) or 1,
            per_page=integer("per_page", per_page, 1, MAX_PER_PAGE) or per_page,
        )

    def apply(self, q: Select[Any]) -> Select[Any]:
        if self.sites is not None:
            q = q.where(Event.camera_id.in_(select(Camera.id).where(Camera.site.in_(self.sites))))
        if self.camera_id is not None:
            q = q.where(Event.camera_id == self.camera_id)
        if self.since is not None:
            q = q.where(Event.time >= self.since)
        if self.until is not None:
            q = q.where(Event.time < self.until)
        if self.verdict is not None:
            q = q.where(Event.verdict == self.verdict)
        return q

    def query_args(self, **change: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce this filter (for pagination and export links)."""
        out = {"camera": self.camera_id, "since": self.since.isoformat() if self.since else None,
               "until": self.until.isoformat() if self.until else None, "verdict": self.verdict,
               "page": self.page, "per_page": self.per_page}
        out.update(change)
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[tuple[Event, bool]]  # (event, has snapshot)
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def events_page(db: Session, f: EventFilter) -> EventPage:
    total = db.scalar(f.apply(select(func.count()).select_from(Event))) or 0
    q = (f.apply(select(Event, Snapshot.event_id.is_not(None)))
         .outerjoin(Snapshot, Snapshot.event_id == Event.event_id)
         .order_by(Event.time.desc(), Event.id.desc())
         .limit(f.per_page).offset((f.page - 1) * f.per_page))
    items = [(e, bool(has)) for e, has in db.execute(q).all()]
    return EventPage(items, total, f.page, f.per_page)


def events_for_export(db: Session, f: EventFilter, limit: int = 1_000_000) -> Iterator[Event]:
    q = f.apply(select(Event)).order_by(Event.time.desc(), Event.id.desc()).limit(limit)
    yield from db.scalars(q.execution_options(yield_per=2000))


def cameras(db: Session, sites: tuple[str, ...] | None = None) -> list[Camera]:
    """Cameras, by site and name; ``sites``: only those sites (None: all)."""
    q = select(Camera).order_by(Camera.site, Camera.name)
    if sites is not None:
        q = q.where(Camera.site.in_(sites))
    return list(db.scalars(q))


@dataclass(frozen=True, slots=True)
class CameraSummary:
    camera: Camera
    today: Tally
    last_violation: Event | None
    agent_availability: str | None


def overview(db: Session, tz: str | Callable[[str], str], now: datetime | None = None,
             sites: tuple[str, ...] | None = None) -> list[CameraSummary]:
    """Per camera: today's tally (the local day of the camera's site: ``tz`` is a zone or site -> zone)."""
    cams = cameras(db, sites)
    zone_of = tz if callable(tz) else (lambda _site: tz)
    today: dict[int, Tally] = {}
    for zone in sorted({zone_of(c.site) for c in cams}):
        in_zone = {c.id for c in cams if zone_of(c.site) == zone}
        today.update((cid, t) for cid, t in today_by_camera(db, zone, now).items() if cid in in_zone)
    agents = {(a.site, a.name): a.availability for a in db.scalars(select(Agent))}
    out = []
    for c in cams:
        last = db.scalar(select(Event).where(Event.camera_id == c.id).order_by(Event.time.desc()).limit(1))
        out.append(CameraSummary(c, today.get(c.id, Tally()), last, agents.get((c.site, c.agent or ""))))
    return out


def event_json(e: Event, has_snapshot: bool | None = None) -> dict[str, Any]:
    """An event in the JSON API: the payload's fields (dashboard.event_shape) and the dashboard's own."""
    out: dict[str, Any] = {
        **payload_json(e), "camera_id": e.camera_id, "received_at": e.received_at.isoformat(),
        "review": None if e.review is None else {
            "action": e.review, "label": e.review_label, "by": e.reviewed_by,
            "at": e.reviewed_at.isoformat() if e.reviewed_at else None},
    }
    if has_snapshot is not None:
        out["snapshot_url"] = f"/snapshots/{e.event_id}.jpg" if has_snapshot else None
    return out


def camera_json(c: Camera, today: Tally | None = None, last: Event | None = None,
                availability: str | None = None) -> dict[str, Any]:
    t = today or Tally()
    return {
        "id": c.id, "site": c.site, "name": c.name, "agent": c.agent, "agent_availability": availability,
        "state": c.state, "reason": c.reason,
        "resolution": [c.width, c.height] if c.width and c.height else None,
        "status_time": c.status_time.isoformat() if c.status_time else None,
        "last_seen": c.last_seen.isoformat() if c.last_seen else None,
        "today": {"people": t.people, **t.people_by, "violations": t.violations, "compliance": t.compliance},
        "last_violation": last.time.isoformat() if last else None,
    }
