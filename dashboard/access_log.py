"""The access log (docs/privacy.md): who viewed or downloaded personal data, when, and what.

Recorded: every snapshot served, every CSV export, every live view (an MJPEG stream, or a live tile; a tile
the overview page refreshes every few seconds is recorded once per user and camera per ``LIVE_DEDUP_S``).
Separate from the audit log of administrative changes. Bookkeeping never fails a read: an error writing the
log is logged and counted, and the page is still served. Kept ``dashboard.retention.access_log_days``.

:func:`record_action` records privacy actions (erasure) in the audit log (``dashboard.audit``) and here.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Engine, insert

from dashboard.audit import record
from dashboard.models import AccessLog

log = logging.getLogger(__name__)
ACCESS = AccessLog.__table__

SNAPSHOT = "snapshot"
EXPORT_CSV = "export_csv"
LIVE = "live"
ERASE = "erase"
REVIEW = "review"
EXPORT_REVIEWED = "export_reviewed"
ACTIONS = {SNAPSHOT: _l("viewed a snapshot"), EXPORT_CSV: _l("exported violations (CSV)"),
           LIVE: _l("watched a live view"), ERASE: _l("erased data on request"), REVIEW: _l("reviewed a violation"),
           EXPORT_REVIEWED: _l("exported reviewed face crops")}
AUDIT_NAMES = {ERASE: "privacy.erase", REVIEW: "event.review"}  # the action's name in the audit log
LIVE_DEDUP_S = 300.0

_recent: dict[tuple[str, str, str, str], float] = {}  # (database, user, action, target) -> last recorded
_lock = threading.Lock()
failures = 0  # writes that failed (shown nowhere else: the log line says why)


def write(bind: Engine | Connection, user: str, action: str, target: str, remote_addr: str | None = None,
          now: datetime | None = None) -> None:
    """One access-log row; ``bind`` an engine (own transaction) or a connection (the caller's transaction)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access-log action {action!r}; allowed: {', '.join(ACTIONS)}")
    row = {"time": now or datetime.now(UTC), "user": user[:64], "action": action, "target": target[:255],
           "remote_addr": (remote_addr or None) and remote_addr[:64]}
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            conn.execute(insert(ACCESS), row)
    else:
        bind.execute(insert(ACCESS), row)


def record_view(action: str, target: str, *, dedup_s: float = 0.0) -> None:
    """In a request: record that the logged-in user looked at ``target``. Never raises."""
    global failures
    from flask import current_app, request
    from flask_login import current_user

    user = getattr(current_user, "name", None) or "anonymous"
    if dedup_s > 0:
        key, now = (str(current_app.config["DATABASE_URL"]), user, action, target), time.monotonic()
        with _lock:
            if now - _recent.get(key, -1e18) < dedup_s:
                return
            _recent[key] = now
            if len(_recent) > 10_000:
                _recent.clear()
    try:
        write(current_app.extensions["maskwatch"]["engine"], user, action, target, request.remote_addr)
    except Exception:  # bookkeeping must not fail the read it records
        failures += 1
        log.exception("could not write the access log (%s %s by %s)", action, target, user)


def record_action(bind: Engine | Connection, user: str, action: str, detail: str) -> None:
    """An administrative or review action (erasure, review): in the audit log (dashboard.audit, who did what)
    and, as the privacy record of what happened to the data, in the access log too."""
    name = AUDIT_NAMES.get(action, f"privacy.{action}")
    if isinstance(bind, Connection):
        record(bind, user, name, "", detail)
    else:
        with bind.begin() as conn:
            record(conn, user, name, "", detail)
    write(bind, user, action, detail)
