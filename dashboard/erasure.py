"""Erasure on request (docs/privacy.md): find a camera's events in a time window and delete them with their
snapshot files; recorded (dashboard.access_log.record_action). Statistics keep their counts: the hourly
roll-up the statistics pages read is not touched (note: ``rollup.rebuild_hourly`` after an erasure would
recount from the remaining events).

Selected: events of the camera whose time is in ``[since, until)``, their snapshots, and snapshots of that
camera received in the window whose event never arrived. Nothing else: other cameras, other times, stats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, delete, or_, select

from dashboard import access_log
from dashboard.models import Camera
from dashboard.retention import delete_snapshot_files, remove_empty_dirs
from dashboard.store import EVENTS, FACES, SNAPSHOTS

log = logging.getLogger(__name__)
CAMERAS = Camera.__table__


class ErasureError(ValueError):
    """Bad erasure request (unknown camera, empty window); the message says which."""


@dataclass(frozen=True, slots=True)
class Erasure:
    camera: str  # site/name
    since: datetime
    until: datetime
    event_ids: tuple[str, ...]
    snapshot_paths: tuple[str, ...]
    done: bool  # False: a dry run (nothing deleted)

    @property
    def summary(self) -> str:
        verb = "erased" if self.done else "would erase"
        return (f"{verb} {len(self.event_ids)} events and {len(self.snapshot_paths)} snapshots of camera "
                f"{self.camera} from {self.since.isoformat()} to {self.until.isoformat()}")


def parse_time(value: str, tz: str) -> datetime:
    """ISO 8601; without an offset it is a local time in ``tz``. Raises ErasureError naming the value."""
    from zoneinfo import ZoneInfo

    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ErasureError(f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01T09:00 or 2026-12-01T09:00+07:00)") \
            from None
    return (t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz))).astimezone(UTC)


def find_camera(engine: Engine, spec: str) -> tuple[int, str]:
    """``site/name``, or ``name`` when only one site has a camera of that name; returns (id, "site/name")."""
    site, _, name = spec.rpartition("/")
    q = select(CAMERAS.c.id, CAMERAS.c.site, CAMERAS.c.name).where(CAMERAS.c.name == name)
    if site:
        q = q.where(CAMERAS.c.site == site)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    if not rows:
        raise ErasureError(f"no camera {spec!r}")
    if len(rows) > 1:
        raise ErasureError(f"camera name {name!r} is on several sites ({', '.join(r[1] for r in rows)}); "
                           "give site/name")
    return rows[0][0], f"{rows[0][1]}/{rows[0][2]}"


def erase(engine: Engine, snapshot_dir: Path, camera: str, since: datetime, until: datetime, *, user: str,
          dry_run: bool = False) -> Erasure:
    """Erase (or with ``dry_run`` only count) what :mod:`this module <dashboard.erasure>` selects."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ErasureError("since and until must carry a time zone")
    if until <= since:
        raise ErasureError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
    camera_id, label = find_camera(engine, camera)
    in_window = and_(EVENTS.c.camera_id == camera_id, EVENTS.c.time >= since, EVENTS.c.time < until)
    with engine.begin() as conn:
        event_ids = tuple(conn.execute(select(EVENTS.c.event_id).where(in_window).order_by(EVENTS.c.time)).scalars())
        found = {}
        for table in (SNAPSHOTS, FACES):  # the snapshots and the opt-in face crops of the review loop
            cond = and_(table.c.camera_id == camera_id, or_(
                table.c.event_id.in_(select(EVENTS.c.event_id).where(in_window)),
                and_(table.c.received_at >= since, table.c.received_at < until,
                     table.c.event_id.not_in(select(EVENTS.c.event_id)))))
            found[table.name] = conn.execute(select(table.c.event_id, table.c.path).where(cond)).all()
        snaps = [*found[SNAPSHOTS.name], *found[FACES.name]]
        result = Erasure(label, since, until, event_ids, tuple(r[1] for r in snaps), done=not dry_run)
        if dry_run:
            return result
        for table in (SNAPSHOTS, FACES):
            if found[table.name]:
                conn.execute(delete(table).where(table.c.event_id.in_([r[0] for r in found[table.name]])))
        if event_ids:
            conn.execute(delete(EVENTS).where(in_window))
        access_log.record_action(conn, user, access_log.ERASE, result.summary)
    # files after the commit: a failed transaction leaves every file in place
    delete_snapshot_files(Path(snapshot_dir), list(result.snapshot_paths))
    remove_empty_dirs(Path(snapshot_dir))
    log.info("%s (by %s)", result.summary, user)
    return result
