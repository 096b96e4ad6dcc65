"""Retention per kind of data (``dashboard.retention``, docs/privacy.md): snapshot images, events and raw
stats samples, hourly statistics, the access log, and stale preview frames; on the broker, retained images
(dashboard.broker_retention).

Each kind has its own age: images go first (7 days by default), events later (30), the hourly roll-up
(counts only: no images, no per-person rows) last, so long-term statistics survive. Deletes run in chunks so a
purge of a big backlog never holds the database lock for long. Review crops (the agents' opt-in full-resolution
face crops, ``face_crops``) go after ``retention.review_crops_days``, with their files.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Engine, Table, delete, select

from dashboard.models import AccessLog
from dashboard.settings import RetentionConfig
from dashboard.store import EVENTS, FACES, HOURLY, SAMPLES, SNAPSHOTS

if TYPE_CHECKING:
    from dashboard.previews import PreviewStore

log = logging.getLogger(__name__)
CHUNK = 5000
ACCESS: Table = AccessLog.__table__  # type: ignore[assignment]


def policy_of(retention: RetentionConfig | int) -> RetentionConfig:
    """A plain number of days (older callers, ``retention_days``) applies to every kind."""
    if isinstance(retention, RetentionConfig):
        return retention
    if retention < 1:
        raise ValueError(f"retention_days must be >= 1, got {retention}")
    return RetentionConfig(snapshots_days=retention, review_crops_days=retention, events_days=retention,
                           statistics_days=max(retention, RetentionConfig().statistics_days),
                           access_log_days=max(retention, RetentionConfig().access_log_days))


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _delete_older(engine: Engine, table: Table, col: Column, before: datetime) -> int:  # type: ignore[type-arg]
    total = 0
    key = table.c.id if "id" in table.c else None
    while True:
        with engine.begin() as conn:
            if key is not None:
                ids = select(key).where(col < before).limit(CHUNK).scalar_subquery()
                n = conn.execute(delete(table).where(key.in_(ids))).rowcount
            else:  # composite key (hourly_counts): one statement; the table is small (one row per camera-hour)
                n = conn.execute(delete(table).where(col < before)).rowcount
        total += n
        if key is None or n < CHUNK:
            return total


def purge(engine: Engine, snapshot_dir: Path, retention: RetentionConfig | int, now: datetime | None = None,
          previews: PreviewStore | None = None) -> Counter[str]:
    """Delete what each kind's retention has expired; returns counts per kind (``snapshots``, ``events``,
    ``stat_samples``, ``hourly_counts``, ``access_log``, ``previews``, ``face_crops``)."""
    policy = policy_of(retention)
    out: Counter[str] = Counter()
    # events and snapshots by their receive time: one time basis, whatever the agents' clocks said
    out["events"] = _delete_older(engine, EVENTS, EVENTS.c.received_at, cutoff(policy.events_days, now))
    out["stat_samples"] = _delete_older(engine, SAMPLES, SAMPLES.c.time, cutoff(policy.events_days, now))
    out["hourly_counts"] = _delete_older(engine, HOURLY, HOURLY.c.hour, cutoff(policy.statistics_days, now))
    out["access_log"] = _delete_older(engine, ACCESS, ACCESS.c.time, cutoff(policy.access_log_days, now))
    out["snapshots"] = purge_snapshots(engine, snapshot_dir, cutoff(policy.snapshots_days, now))
    out["face_crops"] = purge_snapshots(engine, snapshot_dir, cutoff(policy.review_crops_days, now), FACES)
    if previews is not None:
        out["previews"] = previews.purge_stale(policy.preview_max_age_s)
    if any(out.values()):
        log.info("retention: purged %s", dict(+out))
    return out


def purge_snapshots(engine: Engine, snapshot_dir: Path, before: datetime, table: Table = SNAPSHOTS) -> int:
    """Snapshot (or face crop, ``table=FACES``) files and rows received before ``before``; rows go only after
    their file is gone."""
    base = Path(snapshot_dir)
    total = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(table.c.event_id, table.c.path)
                                .where(table.c.received_at < before).limit(CHUNK)).all()
            delete_snapshot_files(base, [r[1] for r in rows])
            if rows:
                conn.execute(delete(table).where(table.c.event_id.in_([r[0] for r in rows])))
        total += len(rows)
        if len(rows) < CHUNK:
            break
    remove_empty_dirs(base)
    return total


def delete_snapshot_files(base: Path, rels: list[str]) -> None:
    for rel in rels:
        path = (base / rel).resolve()
        if base.resolve() not in path.parents:  # never delete outside the snapshot directory
            log.warning("snapshot path %r is outside %s; not deleted", rel, base)
            continue
        path.unlink(missing_ok=True)


def remove_empty_dirs(base: Path) -> None:
    if not base.is_dir():
        return
    for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty
