"""Retention: delete events, stats samples and snapshots (rows and files) older than N days.

The hourly roll-up (counts only: no images, no per-person rows) is kept, so long-term statistics survive.
Deletes run in chunks so a purge of a big backlog never holds the database lock for long.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, select

from dashboard.store import EVENTS, FACES, SAMPLES, SNAPSHOTS

log = logging.getLogger(__name__)
CHUNK = 5000


def purge(engine: Engine, snapshot_dir: Path, retention_days: int, now: datetime | None = None) -> Counter[str]:
    """Delete what is older than ``retention_days``; returns counts of deleted events, samples, snapshots."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be >= 1, got {retention_days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    out: Counter[str] = Counter()
    for name, table, col in (("events", EVENTS, EVENTS.c.time), ("stat_samples", SAMPLES, SAMPLES.c.time)):
        while True:
            with engine.begin() as conn:
                ids = select(table.c.id).where(col < cutoff).limit(CHUNK).scalar_subquery()
                n = conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
            out[name] += n
            if n < CHUNK:
                break
    base = Path(snapshot_dir)
    for name, table in (("snapshots", SNAPSHOTS), ("face_crops", FACES)):
        while True:
            with engine.begin() as conn:
                rows = conn.execute(select(table.c.event_id, table.c.path)
                                    .where(table.c.received_at < cutoff).limit(CHUNK)).all()
                for _eid, rel in rows:
                    _unlink(base, rel)
                if rows:
                    conn.execute(delete(table).where(table.c.event_id.in_([r[0] for r in rows])))
            out[name] += len(rows)
            if len(rows) < CHUNK:
                break
    _remove_empty_dirs(base)
    if any(out.values()):
        log.info("retention %d days: purged %s", retention_days, dict(out))
    return out


def _unlink(base: Path, rel: str) -> None:
    path = (base / rel).resolve()
    if base.resolve() not in path.parents:  # never delete outside the snapshot directory
        log.warning("snapshot path %r is outside %s; not deleted", rel, base)
        return
    path.unlink(missing_ok=True)


def _remove_empty_dirs(base: Path) -> None:
    if not base.is_dir():
        return
    for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty
