"""What a site manager reads: the day-of-week x hour heatmap, the weekly report per site (printable page and
CSV) and the comparison with the previous period. All from the hourly roll-up, bucketed in the site's zone;
every day and hour is listed, with zeros where nobody passed (gap-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import Camera, HourlyCount
from dashboard.statistics import Tally, day_bounds
from dashboard.vocabulary import EVENT_COLS, PEOPLE_COLS


def hour_end(now: datetime) -> datetime:
    """The end of the current UTC hour: ranges end there so that this hour's counts are included."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _rows(db: Session, start: datetime, end: datetime, cams: list[Camera]):  # type: ignore[no-untyped-def]
    if not cams:
        return []
    return db.execute(select(HourlyCount).where(HourlyCount.hour >= start, HourlyCount.hour < end,
                                                HourlyCount.camera_id.in_([c.id for c in cams]))).scalars()


def _people(r: HourlyCount) -> int:
    return sum(getattr(r, col) for col in PEOPLE_COLS.values())


@dataclass(frozen=True, slots=True)
class Heatmap:
    """People and violation events per local weekday (0 = Monday) and hour of day."""

    people: list[list[int]]
    violations: list[list[int]]

    @property
    def max_people(self) -> int:
        return max((v for row in self.people for v in row), default=0)

    def level(self, day: int, hour: int) -> int:
        """0..5 for the cell's shade (0: nobody)."""
        m = self.max_people
        v = self.people[day][hour]
        return 0 if v == 0 or m == 0 else 1 + min(4, 5 * v // (m + 1))


def heatmap(db: Session, tz: str, start: datetime, end: datetime, cams: list[Camera]) -> Heatmap:
    zone = ZoneInfo(tz)
    people = [[0] * 24 for _ in range(7)]
    violations = [[0] * 24 for _ in range(7)]
    for r in _rows(db, start, end, cams):
        local = r.hour.astimezone(zone)
        d, h = local.weekday(), local.hour
        people[d][h] += _people(r)
        violations[d][h] += sum(getattr(r, col) for col in EVENT_COLS.values())
    return Heatmap(people, violations)


@dataclass(slots=True)
class WeeklyRow:
    camera: str
    days: list[Tally]  # Monday .. Sunday
    total: Tally = field(default_factory=Tally)


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    site: str
    timezone: str
    monday: date
    rows: list[WeeklyRow]
    total: Tally
    previous: Tally  # the week before, same cameras
    busiest_hour: int | None  # local hour of day with the most people

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    @property
    def day_totals(self) -> list[Tally]:
        out = [Tally() for _ in range(7)]
        for row in self.rows:
            for i, t in enumerate(row.days):
                out[i].add(t)
        return out


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_week(raw: str | None, tz: str, now: datetime | None = None) -> date:
    """``2026-W48`` (ISO week) or any date inside the week; default: the last complete week."""
    if not raw:
        today = (now or datetime.now(UTC)).astimezone(ZoneInfo(tz)).date()
        return week_of(today) - timedelta(days=7)
    try:
        if "-W" in raw:
            year, week = raw.split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        return week_of(date.fromisoformat(raw))
    except ValueError:
        raise ValueError(f"week: use an ISO week such as 2026-W48 or a date, got {raw!r}") from None


def weekly(db: Session, site: str, tz: str, monday: date, cams: list[Camera]) -> WeeklyReport:
    """The week from ``monday`` (local calendar days in ``tz``) for the cameras of ``site``."""
    zone = ZoneInfo(tz)
    cams = sorted((c for c in cams if c.site == site), key=lambda c: c.name)
    start, _ = day_bounds(tz, monday)
    _, end = day_bounds(tz, monday + timedelta(days=6))
    by_id = {c.id: WeeklyRow(c.name, [Tally() for _ in range(7)]) for c in cams}
    total, hours = Tally(), [0] * 24
    for r in _rows(db, start, end, cams):
        local = r.hour.astimezone(zone)
        i = (local.date() - monday).days
        if 0 <= i < 7:
            by_id[r.camera_id].days[i].add(r)
            by_id[r.camera_id].total.add(r)
            total.add(r)
            hours[local.hour] += _people(r)
    previous = Tally()
    prev_start, _ = day_bounds(tz, monday - timedelta(days=7))
    for r in _rows(db, prev_start, start, cams):
        previous.add(r)
    busiest = max(range(24), key=lambda h: hours[h]) if any(hours) else None
    return WeeklyReport(site, tz, monday, list(by_id.values()), total, previous, busiest)


def delta(now: float | int | None, before: float | int | None) -> float | None:
    """now - before (None when either is unknown)."""
    return None if now is None or before is None else now - before
