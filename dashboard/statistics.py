"""Compliance statistics from the hourly roll-up (``hourly_counts``), bucketed in the site's time zone.

Compliance rate = people with a mask / all people decided (from the agents' stats messages).
Violation counts come from the stored events. Both are summed per camera and UTC hour at ingest, so a
page over months of data reads (cameras x hours) rows, whatever the number of events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import Camera, HourlyCount

BUCKETS = ("hour", "day", "week")
VERDICTS = ("with_mask", "without_mask", "mask_incorrect")


@dataclass(slots=True)
class Tally:
    with_mask: int = 0
    without_mask: int = 0
    mask_incorrect: int = 0
    events_without_mask: int = 0
    events_mask_incorrect: int = 0

    def add(self, r: HourlyCount | Tally) -> None:
        if isinstance(r, Tally):
            self.with_mask += r.with_mask
            self.without_mask += r.without_mask
            self.mask_incorrect += r.mask_incorrect
        else:
            self.with_mask += r.people_with_mask
            self.without_mask += r.people_without_mask
            self.mask_incorrect += r.people_mask_incorrect
        self.events_without_mask += r.events_without_mask
        self.events_mask_incorrect += r.events_mask_incorrect

    @property
    def people(self) -> int:
        return self.with_mask + self.without_mask + self.mask_incorrect

    @property
    def violations(self) -> int:
        return self.events_without_mask + self.events_mask_incorrect

    @property
    def compliance(self) -> float | None:
        return None if self.people == 0 else self.with_mask / self.people


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
    per_camera: dict[int, list[int]] = {}  # flat [bucket * 3 + (with, without, incorrect)] people counts
    total = [0, 0, 0, 0, 0]
    hours = [0] * 24
    q = select(HourlyCount.camera_id, HourlyCount.hour, HourlyCount.people_with_mask,
               HourlyCount.people_without_mask, HourlyCount.people_mask_incorrect,
               HourlyCount.events_without_mask, HourlyCount.events_mask_incorrect
               ).where(HourlyCount.hour >= start, HourlyCount.hour < end, HourlyCount.camera_id.in_(list(by_id)))
    rows = list(db.execute(q))
    if apply_reviews:
        from dashboard.review import corrections

        rows += corrections(db, start, end, list(by_id))  # type: ignore[arg-type]
    for cid, hour, w, wo, inc, ewo, einc in rows:
        where = slot.get(hour)
        if where is None:
            continue
        i, local_hour = where
        arr = per_camera.get(cid)
        if arr is None:
            arr = per_camera[cid] = [0] * (3 * n)
        j = 3 * i
        arr[j] += w
        arr[j + 1] += wo
        arr[j + 2] += inc
        total[0] += w
        total[1] += wo
        total[2] += inc
        total[3] += ewo
        total[4] += einc
        hours[local_hour] += w + wo + inc
    sites: dict[str, list[int]] = {}
    for cid, arr in per_camera.items():
        site = sites.setdefault(f"site {by_id[cid].site}", [0] * (3 * n))
        for j, v in enumerate(arr):
            site[j] += v

    def rates(arr: list[int]) -> list[float | None]:
        out: list[float | None] = []
        for i in range(n):
            people = arr[3 * i] + arr[3 * i + 1] + arr[3 * i + 2]
            out.append(None if people == 0 else round(arr[3 * i] / people, 4))
        return out

    series = {name: rates(sites[name]) for name in sorted(sites)}
    for cid in sorted(per_camera, key=lambda c: by_id[c].label):
        series[by_id[cid].label] = rates(per_camera[cid])
    tally = Tally(*total)
    return Report(
        bucket=bucket,
        labels=[_label(k, bucket) for k in keys],
        series=series,
        people={"with_mask": tally.with_mask, "without_mask": tally.without_mask,
                "mask_incorrect": tally.mask_incorrect},
        events={"without_mask": tally.events_without_mask, "mask_incorrect": tally.events_mask_incorrect},
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
