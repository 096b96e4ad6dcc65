"""The audit log: who did what, when. One function for every module that changes something: ``record``.

    from dashboard.audit import record
    record(db, current_user.name, "event.review", event_id, "false positive")

The entry is added to ``db`` (the caller's session) and committed with the caller's own change, so an action
and its audit entry are stored together or not at all; pass ``commit=True`` to commit here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from dashboard.models import AuditEntry

log = logging.getLogger(__name__)


def record(db: Session | Connection, actor: str, action: str, target: str, detail: str = "", *,
           commit: bool = False) -> None:
    """Add one audit entry: ``actor`` (user name, or ``cli`` / ``system``), ``action`` (dotted, e.g.
    ``user.create``), ``target`` (what it was done to), ``detail`` (free text, no secrets). ``db``: an ORM
    session or a Core connection (inside the caller's ``engine.begin()`` block)."""
    values = {"time": datetime.now(UTC), "actor": actor[:64], "action": action[:64], "target": target[:200],
              "detail": detail}
    if isinstance(db, Connection):
        db.execute(insert(AuditEntry).values(**values))
    else:
        db.add(AuditEntry(**values))
        if commit:
            db.commit()
    log.info("audit: %s %s %s %s", actor, action, target, detail)


def recent(db: Session, limit: int = 200, offset: int = 0, action: str | None = None) -> list[AuditEntry]:
    q = select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    return list(db.scalars(q.order_by(AuditEntry.time.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)))
