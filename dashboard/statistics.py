"""Compliance statistics from the hourly roll-up (``hourly_counts``), bucketed in the site's time zone.

Compliance rate = people with a mask / all people decided (from the agents' stats messages).
Violation counts come from the stored events. Both are summed per camera and UTC hour at ingest, so a
page over months of data reads (cameras x hours) rows, whatever the number of events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import Camera, HourlyCount
from dashboard.vocabulary import EVENT_COLS, PEOPLE_COLS
from edge_agent.core.labels import LABEL_IDS, LABELS, VIOLATION_LABELS, WITH_MASK

BUCKETS = ("hour", "day", "week")
VERDICTS = LABELS


def _zeros(labels: tuple[str, ...]) -> dict[str, int]:
    return dict.fromkeys(labels, 0)


@dataclass(slots=True)
class Tally:
    """People decided per verdict (from the stats messages) and violation events per verdict, summed."""

    people_by: dict[str, int] = field(default_factory=lambda: _zeros(LABELS))
    events_by: dict[str, int] = field(default_factory=lambda: _zeros(VIOLATION_LABELS))

    def add(self, r: HourlyCount | Tally) -> None:
        if isinstance(r, Tally):
            people, events = r.people_by, r.events_by
        else:
            people = {label: getattr(r, col) for label, col in PEOPLE_COLS.items()}
            events = {label: getattr(r, col) for label, col in EVENT_COLS.items()}
        for label, n in people.items():
            self.people_by[label] += n
        for label, n in events.items():
            self.events_by[label] += n

    @property
    def people(self) -> int:
        return sum(self.people_by.values())

    @property
    def violations(self) -> int:
        return sum(self.events_by.values())

    @property
    def compliance(self) -> float | None:
        return None if self.people == 0 else self.people_by[WITH_MASK] / self.people


@dataclass(slots=True)
class Report:
    bucket: str
    labels: list[str]
    series: dict[str, list[float | None]]  # "site hq" / "hq/door" -> compliance per bucket (None: nobody)
    people: dict[str, int]  # per verdict, whole range
    events: dict[str, int]  # violation events per verdict, whole range
    busiest_hours: list[int]  # people per local hour of day 0..23
    total: Tally = field(default_factory=Tally)


def bucket_start(local: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")


def _label(start: datetime, bucket: str) -> str:
    return start.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def hourly_rows(db: Session, start: datetime, end: datetime, camera_ids: list[int] | None = None) -> list[HourlyCount]:
    q = select(HourlyCount).where(HourlyCount.hour >= start, HourlyCount.hour < end)
    if camera_ids is not None:
        q = q.where(HourlyCount.camera_id.in_(camera_ids))
    return list(db.scalars(q))


def report(db: Session, tz: str, bucket: str, start: datetime, end: datetime,
           cameras: list[Camera], apply_reviews: bool = True) -> Report:
    """Compliance over time per camera and per site, verdict counts and busiest hours for [start, end).
    With ``apply_reviews`` the operators' reviews correct the counts (false positives out, relabelled
    people under their right label; ``dashboard.review.corrections``).

    Plain tuples and integer lists (no ORM objects): this runs over (cameras x hours) rows per page view.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
    zone = ZoneInfo(tz)
    by_id = {c.id: c for c in cameras}
    # every UTC hour of the range -> (bucket index, local hour of day); every bucket listed, so gaps show
    keys: list[datetime] = []
    slot: dict[datetime, tuple[int, int]] = {}
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while t < end:
        local = t.astimezone(zone)
        k = bucket_start(local, bucket)
        if not keys or keys[-1] != k:
            keys.append(k)
        slot[t] = (len(keys) - 1, local.hour)
        t += timedelta(hours=1)
    n = len(keys)
    nl = len(LABELS)  # per_camera: flat [bucket * nl + label id] people counts
    per_camera: dict[int, list[int]] = {}
    tally = Tally()
    hours = [0] * 24
    q = select(HourlyCount.camera_id, HourlyCount.hour,
               *(getattr(HourlyCount, c) for c in PEOPLE_COLS.values()),
               *(getattr(HourlyCount, c) for c in EVENT_COLS.values()),
               ).where(HourlyCount.hour >= start, HourlyCount.hour < end, HourlyCount.camera_id.in_(list(by_id)))
    rows: list[Any] = list(db.execute(q))
    if apply_reviews:
        from dashboard.review import corrections

        rows += corrections(db, start, end, list(by_id))
    for cid, hour, *counts in rows:
        where = slot.get(hour)
        if where is None:
            continue
        i, local_hour = where
        arr = per_camera.get(cid)
        if arr is None:
            arr = per_camera[cid] = [0] * (nl * n)
        people, events = counts[:nl], counts[nl:]
        base = nl * i
        for j, v in enumerate(people):
            arr[base + j] += v
        for label, v in zip(LABELS, people, strict=True):
            tally.people_by[label] += v
        for label, v in zip(VIOLATION_LABELS, events, strict=True):
            tally.events_by[label] += v
        hours[local_hour] += sum(people)
    sites: dict[str, list[int]] = {}
    for cid, arr in per_camera.items():
        site = sites.setdefault(f"site {by_id[cid].site}", [0] * (nl * n))
        for j, v in enumerate(arr):
            site[j] += v

    masked = LABEL_IDS[WITH_MASK]

    def rates(arr: list[int]) -> list[float | None]:
        out: list[float | None] = []
        for i in range(n):
            people = sum(arr[nl * i:nl * (i + 1)])
            out.append(None if people == 0 else round(arr[nl * i + masked] / people, 4))
        return out

    series = {name: rates(sites[name]) for name in sorted(sites)}
    for cid in sorted(per_camera, key=lambda c: by_id[c].label):
        series[by_id[cid].label] = rates(per_camera[cid])
    return Report(
        bucket=bucket,
        labels=[_label(k, bucket) for k in keys],
        series=series,
        people=dict(tally.people_by),
        events=dict(tally.events_by),
        busiest_hours=hours,
        total=tally,
    )


def day_bounds(tz: str, day: date) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day."""
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    nxt = start + timedelta(days=1)
    return start.astimezone(UTC), datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC)


def today_by_camera(db: Session, tz: str, now: datetime | None = None) -> dict[int, Tally]:
    """Today's (local calendar day) tally per camera id."""
    now = now or datetime.now(UTC)
    start, end = day_bounds(tz, now.astimezone(ZoneInfo(tz)).date())
    out: dict[int, Tally] = defaultdict(Tally)
    for r in hourly_rows(db, start, end):
        out[r.camera_id].add(r)
    return out
