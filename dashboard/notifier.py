"""Deliver queued notifications through apprise, in a background thread of the ingest process.

The queue is the ``notifications`` table (it survives restarts). Each try is a row in
``notification_attempts`` (ok / error / duration); a failed try waits ``backoff_s`` doubling up to
``max_backoff_s``; after ``attempts`` tries the notification is ``failed``. Channel URLs hold secrets:
they are never logged, and apprise's own messages are scrubbed of the URL's parts before they are stored.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, Table, delete, select, update

from dashboard.alerts_settings import ChannelConfig, NotificationsConfig, apprise_url_problem
from dashboard.models import Notification, NotificationAttempt, Snapshot
from dashboard.notify import Planner
from dashboard.notify_text import text
from dashboard.zones import SiteZones
from edge_agent.config import ConfigError

log = logging.getLogger(__name__)
NOTIFICATIONS: Table = Notification.__table__  # type: ignore[assignment]
ATTEMPTS: Table = NotificationAttempt.__table__  # type: ignore[assignment]
SNAPSHOTS: Table = Snapshot.__table__  # type: ignore[assignment]
SNAPSHOT_WAIT_S = 2.0  # an event's snapshot usually comes first; give a late one this long


def check_channels(cfg: NotificationsConfig) -> None:
    """Config error naming the key for a URL apprise refuses (needs apprise: the dashboard has it)."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        raise ConfigError("notifications need the apprise package: pip install 'maskwatch[dashboard]'") from None
    for name, ch in cfg.channels.items():
        problem = apprise_url_problem(ch.url.get_secret_value())
        if problem:
            raise ConfigError(f"notifications.channels.{name}.url: {problem}")


def scrub(text: str, url: str) -> str:
    """Remove every part of ``url`` longer than 3 characters (tokens, passwords, chat ids) from ``text``."""
    rest = url.split("://", 1)[-1]
    parts = {p for p in re.split(r"[/:@?&=#,]", rest) if len(p) > 3} | {rest, url}
    parts |= {unquote(p) for p in parts}
    for p in sorted(parts, key=len, reverse=True):
        text = text.replace(p, "***")
    return text


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    error: str | None
    duration_ms: float


def deliver(channel: ChannelConfig, title: str, body: str, attach: Path | None, timeout_s: float) -> Result:
    """One try on one channel. Never raises; the error says why, without secrets."""
    import apprise

    url = channel.url.get_secret_value()
    t0 = time.perf_counter()
    try:
        a = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        sep = "&" if "?" in url else "?"
        if not a.add(url + f"{sep}cto={timeout_s:g}&rto={timeout_s:g}") and not a.add(url):
            return Result(False, "apprise refused the channel URL", 0.0)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            files = apprise.AppriseAttachment(str(attach)) if attach is not None else None
            ok = bool(a.notify(body=body, title=title, attach=files))
            logs = captured.getvalue().strip()
    except Exception as err:  # a plugin bug must not stop the worker
        ok, logs = False, f"{type(err).__name__}: {err}"
    ms = (time.perf_counter() - t0) * 1000
    error = None if ok else (scrub(logs.splitlines()[-1] if logs else "the service did not accept it", url)[:500])
    return Result(ok, error, ms)


class Notifier:
    """Works through the queue: digests due, then pending rows whose ``next_at`` has come."""

    def __init__(self, engine: Engine, cfg: NotificationsConfig, snapshot_dir: Path, zones: SiteZones | str = "UTC",
                 poll_s: float = 1.0, keep_days: int = 30) -> None:
        self.engine = engine
        self.cfg = cfg
        self.snapshot_dir = Path(snapshot_dir)
        self.planner = Planner(cfg, zones)
        self.poll_s = poll_s
        self.keep_days = keep_days
        self.counters: Counter[str] = Counter()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_purge = 0.0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Notifier:
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # loop boundary: the database may be down; try again later
                self.counters["worker_error"] += 1
                log.exception("notifier pass failed; retrying")
                self._stop.wait(5.0)
            self.wake.wait(self.poll_s)
            self.wake.clear()

    # ------------------------------------------------------------ one pass
    def run_once(self, now: datetime | None = None) -> int:
        """Make due digests, then try every due notification once; returns how many were tried."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            self.planner.digests(conn, now)
            rows = conn.execute(select(NOTIFICATIONS).where(NOTIFICATIONS.c.status == "pending",
                                                            NOTIFICATIONS.c.next_at <= now)
                                .order_by(NOTIFICATIONS.c.id).limit(50)).mappings().all()
        tried = 0
        for row in rows:
            if self._stop.is_set():
                break
            tried += self._try(dict(row))
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + 3600
            self.purge(now)
        return tried

    def _snapshot_path(self, event_id: str | None) -> Path | None:
        if not event_id:
            return None
        with self.engine.connect() as conn:
            rel = conn.execute(select(SNAPSHOTS.c.path).where(SNAPSHOTS.c.event_id == event_id)).scalar()
        path = (self.snapshot_dir / rel) if rel else None
        return path if path is not None and path.is_file() else None

    def _try(self, row: dict[str, Any], final: bool = False) -> int:
        channel = self.cfg.channels.get(row["channel"])
        now = datetime.now(UTC)
        if channel is None:
            self._finish(row, "failed", now, f"channel {row['channel']!r} is no longer configured")
            return 0
        attach = self._snapshot_path(row["event_id"]) if channel.attach_snapshot else None
        created = row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=UTC)
        if (not final and attach is None and channel.attach_snapshot and row["kind"] == "event" and row["tries"] == 0
                and now - created < timedelta(seconds=SNAPSHOT_WAIT_S)):
            with self.engine.begin() as conn:  # its snapshot may still be on the way: look again shortly
                conn.execute(update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == row["id"])
                             .values(next_at=now + timedelta(seconds=0.25)))
            return 0
        if not self._claim(row, now):
            return 0  # another ingest process (shared subscription) took it
        r = deliver(channel, row["title"], row["body"], attach, self.cfg.retry.timeout_s)
        tries = row["tries"] + 1
        done = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(ATTEMPTS.insert(), {"notification_id": row["id"], "time": done, "ok": r.ok,
                                             "duration_ms": round(r.duration_ms, 1), "error": r.error})
        if r.ok:
            self.counters["sent"] += 1
            self._finish(row, "sent", done, None, tries)
        elif final or tries >= self.cfg.retry.attempts:
            self.counters["failed"] += 1
            log.warning("notification %d (%s, channel %s) failed after %d tries: %s", row["id"], row["kind"],
                        row["channel"], tries, r.error)
            self._finish(row, "failed", done, r.error, tries)
        else:
            self.counters["retry"] += 1
            wait = min(self.cfg.retry.backoff_s * 2 ** (tries - 1), self.cfg.retry.max_backoff_s)
            with self.engine.begin() as conn:
                conn.execute(update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == row["id"]).values(
                    tries=tries, last_error=r.error, next_at=done + timedelta(seconds=wait)))
        return 1

    def _claim(self, row: dict[str, Any], now: datetime) -> bool:
        """Lease the row for one try (several ingesters may share the queue): only one wins the update."""
        lease = now + timedelta(seconds=2 * self.cfg.retry.timeout_s + 5)
        with self.engine.begin() as conn:
            res = conn.execute(update(NOTIFICATIONS).where(
                NOTIFICATIONS.c.id == row["id"], NOTIFICATIONS.c.status == "pending",
                NOTIFICATIONS.c.next_at == row["next_at"]).values(next_at=lease))
        return bool(res.rowcount == 1)

    def _finish(self, row: dict[str, Any], status: str, when: datetime, error: str | None,
                tries: int | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == row["id"]).values(
                status=status, last_error=error, tries=row["tries"] if tries is None else tries,
                sent_at=when if status == "sent" else None))

    def purge(self, now: datetime) -> None:
        cutoff = now - timedelta(days=self.keep_days)
        with self.engine.begin() as conn:
            conn.execute(delete(NOTIFICATIONS).where(NOTIFICATIONS.c.created_at < cutoff,
                                                     NOTIFICATIONS.c.status.not_in(("pending", "held"))))


def enqueue_test(engine: Engine, cfg: NotificationsConfig, channels: list[str] | None = None,
                 who: str = "maskwatch", zones: SiteZones | str = "UTC") -> list[int]:
    """Queue a test message on each channel (or the named ones); the notifier sends them within a second."""
    names = channels or sorted(cfg.channels)
    unknown = [n for n in names if n not in cfg.channels]
    if unknown:
        raise ConfigError(f"unknown channel {unknown[0]!r}; defined: {', '.join(sorted(cfg.channels)) or '(none)'}")
    now = datetime.now(UTC)
    tz = SiteZones.of_any(zones).default  # a test belongs to no site: the dashboard's zone
    with engine.begin() as conn:
        return [conn.execute(NOTIFICATIONS.insert().returning(NOTIFICATIONS.c.id), {
            "kind": "test", "rule": "(test)", "channel": n, "status": "pending", "event_id": None, "camera_id": None,
            **dict(zip(("title", "body"), text(cfg.language_of(n)).test(who, n, now, tz), strict=True)),
            "created_at": now, "next_at": now, "tries": 0, "last_error": None}).scalar_one() for n in names]


def send_test_now(engine: Engine, cfg: NotificationsConfig, snapshot_dir: Path,
                  channels: list[str] | None = None, who: str = "maskwatch notify-test",
                  zones: SiteZones | str = "UTC") -> list[tuple[str, str, str]]:
    """Queue a test message per channel and try each once now; (channel, status, error) per channel."""
    ids = enqueue_test(engine, cfg, channels, who, zones)
    n = Notifier(engine, cfg, snapshot_dir)
    out = []
    for nid in ids:
        with engine.connect() as conn:
            row = dict(conn.execute(select(NOTIFICATIONS).where(NOTIFICATIONS.c.id == nid)).mappings().one())
        n._try(row, final=True)
        with engine.connect() as conn:
            status, err = conn.execute(select(NOTIFICATIONS.c.status, NOTIFICATIONS.c.last_error)
                                       .where(NOTIFICATIONS.c.id == nid)).one()
        out.append((row["channel"], status, err or ""))
    return out
