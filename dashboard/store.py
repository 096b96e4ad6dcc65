"""Write validated messages to the database in batches, idempotently (SQLAlchemy Core, one transaction each).

- events: unique by event_id; a replay inserts nothing and counts as a duplicate;
- stats: unique by (camera, time); people counts go into the hourly roll-up only when the sample is new;
- snapshots: JPEG written under the snapshot directory, relative path in ``snapshots``; a snapshot with a
  higher revision (a better face of the same person, sent later) replaces the stored one, a lower or equal
  one is a duplicate, so replays and reordering end in the same state. Face crops (``face_crops``) alike;
- event revisions: a message with a known event_id and a higher ``revision`` updates its box and snapshot
  region (counted once in the statistics: only the first insert counts);
- camera status: the newest status wins (retained messages arrive again after every reconnect);
- agent availability: latest value.

Upserts use ``INSERT .. ON CONFLICT`` on SQLite and PostgreSQL and a select-then-write fallback elsewhere.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, or_, select, update

from dashboard.event_shape import event_row
from dashboard.messages import (
    AvailabilityMsg,
    EventMsg,
    Message,
    SnapshotMsg,
    StatsMsg,
    StatusMsg,
    SwitchMsg,
    payload_of,
)
from dashboard.models import Agent, Camera, Event, FaceCrop, HourlyCount, Snapshot, StatSample
from dashboard.notify import NewEvent
from dashboard.vocabulary import EVENT_COLS, HOURLY_COLS, PEOPLE_COLS

EVENTS: Table = Event.__table__  # type: ignore[assignment]
CAMERAS: Table = Camera.__table__  # type: ignore[assignment]
SNAPSHOTS: Table = Snapshot.__table__  # type: ignore[assignment]
FACES: Table = FaceCrop.__table__  # type: ignore[assignment]
SAMPLES: Table = StatSample.__table__  # type: ignore[assignment]
HOURLY: Table = HourlyCount.__table__  # type: ignore[assignment]
AGENTS: Table = Agent.__table__  # type: ignore[assignment]


def hour_of(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def write_file_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a partial file left on a full disk would keep it full
        raise


class Store:
    def __init__(self, engine: Engine, snapshot_dir: Path) -> None:
        self.engine = engine
        self.snapshot_dir = Path(snapshot_dir)
        self.dialect = engine.dialect.name
        self._cameras: dict[tuple[str, str], int] = {}
        self._written: list[Path] = []  # snapshot files written by the batch in progress
        self._replaced: list[Path] = []  # files of lower revisions, deleted once the batch is committed
        # called in the transaction with the events it inserts (notifications are planned atomically with them)
        self.on_new_events: Callable[[Connection, list[NewEvent]], object] | None = None
        self.new_events: list[NewEvent] = []  # of the last write (after it committed)
        self.touched: set[int] = set()  # camera ids of the last write

    # ------------------------------------------------------------ generic helpers
    def _insert_ignore(self, conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
                       returning: Sequence[str]) -> list[tuple[Any, ...]]:
        """Insert rows whose ``keys`` are new; return ``returning`` columns of the rows inserted."""
        if not rows:
            return []
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
            stmt = insert(table).on_conflict_do_nothing(index_elements=list(keys))
            stmt = stmt.returning(*(table.c[c] for c in returning))  # type: ignore[assignment]
            return [tuple(r) for r in conn.execute(stmt, rows).all()]
        out = []
        for row in rows:
            cond = and_(*(table.c[k] == row[k] for k in keys))
            if conn.execute(select(table.c[keys[0]]).where(cond)).first() is None:
                conn.execute(table.insert(), row)
                out.append(tuple(row[c] for c in returning))
        return out

    def _add_hourly(self, conn: Connection, counts: dict[tuple[int, datetime], Counter[str]]) -> None:
        rows = [{"camera_id": cid, "hour": hour, **{c: int(cnt.get(c, 0)) for c in HOURLY_COLS}}
                for (cid, hour), cnt in counts.items()]
        if not rows:
            return
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
            ins = insert(HOURLY)
            stmt = ins.on_conflict_do_update(
                index_elements=["camera_id", "hour"], set_={c: HOURLY.c[c] + ins.excluded[c] for c in HOURLY_COLS})
            conn.execute(stmt, rows)
            return
        for row in rows:
            key = and_(HOURLY.c.camera_id == row["camera_id"], HOURLY.c.hour == row["hour"])
            if conn.execute(select(HOURLY.c.camera_id).where(key)).first() is None:
                conn.execute(HOURLY.insert(), row)
            else:
                conn.execute(update(HOURLY).where(key).values({c: HOURLY.c[c] + row[c] for c in HOURLY_COLS}))

    def camera_ids(self, conn: Connection, names: Iterable[tuple[str, str]],
                   new: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """Ids for (site, camera), creating cameras as needed; ``new`` collects ids to cache after commit."""
        out = {}
        missing = []
        for key in sorted(set(names)):  # sorted: ids do not depend on hash order
            if key in self._cameras:
                out[key] = self._cameras[key]
            else:
                missing.append(key)
        if missing:
            self._insert_ignore(conn, CAMERAS, [{"site": s, "name": n, "state": "unknown"} for s, n in missing],
                                ["site", "name"], ["id"])
            cond = or_(*(and_(CAMERAS.c.site == s, CAMERAS.c.name == n) for s, n in missing))
            for cid, site, name in conn.execute(select(CAMERAS.c.id, CAMERAS.c.site, CAMERAS.c.name).where(cond)):
                out[(site, name)] = new[(site, name)] = cid
        return out

    # ------------------------------------------------------------ the batch
    def write(self, messages: Sequence[Message], now: datetime | None = None) -> Counter[str]:
        """Store a batch in one transaction; returns counters (``event``, ``event_duplicate``, ...)."""
        now = now or datetime.now(UTC)
        counts: Counter[str] = Counter()
        new_ids: dict[tuple[str, str], int] = {}
        self._written, self._replaced = [], []
        self.new_events, self.touched = [], set()
        try:
            with self.engine.begin() as conn:
                names = []
                for m in messages:
                    if (p := payload_of(m)) is not None:
                        names.append((p.site, p.camera))
                    elif isinstance(m, SnapshotMsg | SwitchMsg):
                        names.append((m.site, m.camera))
                ids = self.camera_ids(conn, names, new_ids)
                self.touched = set(ids.values())
                self._events(conn, [m for m in messages if isinstance(m, EventMsg)], ids, now, counts)
                self._stats(conn, [m for m in messages if isinstance(m, StatsMsg)], ids, counts)
                self._snapshots(conn, [m for m in messages if isinstance(m, SnapshotMsg)], ids, now, counts)
                self._statuses(conn, [m for m in messages if isinstance(m, StatusMsg)], ids, counts)
                self._availability(conn, [m for m in messages if isinstance(m, AvailabilityMsg)], now, counts)
                self._switches(conn, [m for m in messages if isinstance(m, SwitchMsg)], ids, counts)
                self._last_seen(conn, messages, ids)
        except BaseException:
            for path in self._written:  # their rows were rolled back: leave no unreferenced file on the disk
                path.unlink(missing_ok=True)
            raise
        for path in self._replaced:
            path.unlink(missing_ok=True)
        self._cameras.update(new_ids)
        return +counts

    def _events(self, conn: Connection, msgs: list[EventMsg], ids: dict[tuple[str, str], int], now: datetime,
                counts: Counter[str]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for m in sorted(msgs, key=lambda m: -m.event.revision):  # the highest revision of each event first
            e = m.event
            rows.setdefault(e.event_id, {**event_row(e), "camera_id": ids[(e.site, e.camera)], "received_at": now,
                                         "agent_time": m.agent_time})
        inserted = {r[0] for r in self._insert_ignore(conn, EVENTS, list(rows.values()), ["event_id"], ["event_id"])}
        revised = 0
        for eid, r in rows.items():
            if eid in inserted or r["revision"] == 0:
                continue
            revised += conn.execute(
                update(EVENTS).where(EVENTS.c.event_id == eid, EVENTS.c.revision < r["revision"])
                .values({k: r[k] for k in ("revision", "box", "snapshot_region", "confidence", "votes")})
            ).rowcount
        counts["event"] += len(inserted)
        first = {m.event.event_id: m.event for m in reversed(msgs)}  # the one whose row was inserted
        self.new_events = [NewEvent(first[eid], rows[eid]["camera_id"]) for eid in sorted(inserted)]
        if self.on_new_events is not None and self.new_events:
            self.on_new_events(conn, self.new_events)
        counts["event_revision"] += revised
        counts["event_duplicate"] += len(msgs) - len(inserted) - revised
        hourly: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
        for eid in inserted:
            r = rows[eid]
            hourly[(r["camera_id"], hour_of(r["time"]))][EVENT_COLS[r["verdict"]]] += 1
        self._add_hourly(conn, hourly)

    def _stats(self, conn: Connection, msgs: list[StatsMsg], ids: dict[tuple[str, str], int],
               counts: Counter[str]) -> None:
        rows = {}
        for m in msgs:
            s = m.stats
            cid = ids[(s.site, s.camera)]
            rows.setdefault((cid, s.time), {
                "camera_id": cid, "time": s.time, "interval_s": s.interval_s, "frames": s.frames, "fps": s.fps,
                "inference_ms": s.inference_ms, "dropped_frames": s.dropped_frames, **s.people,
            })
        inserted = self._insert_ignore(conn, SAMPLES, list(rows.values()), ["camera_id", "time"], ["camera_id", "time"])
        counts["stats"] += len(inserted)
        counts["stats_duplicate"] += len(msgs) - len(inserted)
        hourly: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
        for cid, t in inserted:
            t = t if isinstance(t, datetime) and t.tzinfo else t.replace(tzinfo=UTC)
            r = rows[(cid, t)]
            for label, col in PEOPLE_COLS.items():
                hourly[(cid, hour_of(t))][col] += r[label]
        self._add_hourly(conn, hourly)
        self._agent_queue(conn, msgs, ids)

    def _agent_queue(self, conn: Connection, msgs: list[StatsMsg], ids: dict[tuple[str, str], int]) -> None:
        """The newest stats per camera carry the agent's backlog and dead letters: shown on the camera page."""
        latest: dict[int, StatsMsg] = {}
        for m in msgs:
            cid = ids[(m.stats.site, m.stats.camera)]
            if m.stats.queue_pending is not None and (cid not in latest or latest[cid].stats.time <= m.stats.time):
                latest[cid] = m
        for cid, m in latest.items():
            conn.execute(update(CAMERAS).where(CAMERAS.c.id == cid).values(
                agent_backlog=m.stats.queue_pending, agent_dead_letters=m.stats.dead_letters))

    def _snapshots(self, conn: Connection, msgs: list[SnapshotMsg], ids: dict[tuple[str, str], int], now: datetime,
                   counts: Counter[str]) -> None:
        for kind, table in (("snapshot", SNAPSHOTS), ("face", FACES)):
            self._images(conn, [m for m in msgs if m.kind == kind], table, kind, ids, now, counts)

    def _images(self, conn: Connection, msgs: list[SnapshotMsg], table: Table, kind: str,
                ids: dict[tuple[str, str], int], now: datetime, counts: Counter[str]) -> None:
        """Per event: insert the image, or replace the stored one when this revision is higher."""
        if not msgs:
            return
        wanted: dict[str, SnapshotMsg] = {}
        for m in msgs:
            if m.event_id not in wanted or m.revision > wanted[m.event_id].revision:
                wanted[m.event_id] = m
        have = {eid: (rev, path) for eid, rev, path in conn.execute(
            select(table.c.event_id, table.c.revision, table.c.path).where(table.c.event_id.in_(wanted)))}
        rows, replaced = [], 0
        for eid, m in wanted.items():
            if eid in have and have[eid][0] >= m.revision:
                continue
            suffix = "" if kind == "snapshot" else f".{kind}"
            suffix += f".r{m.revision}" if m.revision else ""
            rel = f"{m.site}/{m.camera}/{now:%Y-%m-%d}/{eid}{suffix}.jpg"
            write_file_atomic(self.snapshot_dir / rel, m.jpeg)
            self._written.append(self.snapshot_dir / rel)
            row = {"event_id": eid, "camera_id": ids[(m.site, m.camera)], "path": rel, "size": len(m.jpeg),
                   "received_at": now, "revision": m.revision}
            if eid not in have:
                rows.append(row)
                continue
            n = conn.execute(update(table).where(table.c.event_id == eid, table.c.revision < m.revision)
                             .values(path=rel, size=len(m.jpeg), received_at=now, revision=m.revision)).rowcount
            replaced += n
            if not n:  # replaced meanwhile by an equal or higher revision
                self._written.remove(self.snapshot_dir / rel)
                (self.snapshot_dir / rel).unlink(missing_ok=True)
            elif have[eid][1] != rel:
                self._replaced.append(self.snapshot_dir / have[eid][1])
        inserted = self._insert_ignore(conn, table, rows, ["event_id"], ["event_id"])
        counts[kind] += len(inserted)
        counts[f"{kind}_revision"] += replaced
        counts[f"{kind}_duplicate"] += len(msgs) - len(inserted) - replaced

    def _statuses(self, conn: Connection, msgs: list[StatusMsg], ids: dict[tuple[str, str], int],
                  counts: Counter[str]) -> None:
        for m in sorted(msgs, key=lambda m: m.status.time):
            s = m.status
            w, h = s.resolution or (None, None)
            conn.execute(
                update(CAMERAS)
                .where(CAMERAS.c.id == ids[(s.site, s.camera)],
                       or_(CAMERAS.c.status_time.is_(None), CAMERAS.c.status_time <= s.time))
                .values(state=s.state, reason=s.reason, width=w, height=h, status_time=s.time, agent=s.agent)
            )
            counts["status"] += 1

    def _availability(self, conn: Connection, msgs: list[AvailabilityMsg], now: datetime,
                      counts: Counter[str]) -> None:
        latest = {(m.site, m.agent): m.value for m in msgs}
        for (site, agent), value in latest.items():
            res = conn.execute(update(AGENTS).where(AGENTS.c.site == site, AGENTS.c.name == agent)
                               .values(availability=value, updated_at=now))
            if res.rowcount == 0:
                self._insert_ignore(conn, AGENTS, [{"site": site, "name": agent, "availability": value,
                                                    "updated_at": now}], ["site", "name"], ["id"])
        counts["available"] += len(msgs)

    def _switches(self, conn: Connection, msgs: list[SwitchMsg], ids: dict[tuple[str, str], int],
                  counts: Counter[str]) -> None:
        for m in msgs:  # in arrival order: the last one wins
            column = "detection_enabled" if m.switch == "enabled" else "notifications_enabled"
            conn.execute(update(CAMERAS).where(CAMERAS.c.id == ids[(m.site, m.camera)]).values({column: m.on}))
            counts["switch"] += 1

    def _last_seen(self, conn: Connection, messages: Sequence[Message], ids: dict[tuple[str, str], int]) -> None:
        seen: dict[int, tuple[datetime, str]] = {}
        for m in messages:
            p = payload_of(m)
            if p is None or isinstance(m, StatusMsg):  # last_seen: events and stats only
                continue
            cid = ids[(p.site, p.camera)]
            if cid not in seen or seen[cid][0] < p.time:
                seen[cid] = (p.time, p.agent)
        for cid, (t, agent) in seen.items():
            conn.execute(update(CAMERAS)
                         .where(CAMERAS.c.id == cid, or_(CAMERAS.c.last_seen.is_(None), CAMERAS.c.last_seen < t))
                         .values(last_seen=t, agent=agent))
