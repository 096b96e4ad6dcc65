"""Bookkeeping writes (a token's ``last_used``, a user's ``last_login``) off the request path.

A read must never wait for, or fail because of, a write: while another process holds SQLite's write lock
(or PostgreSQL is read-only) a GET with a bearer token still answers. Requests only note what happened;
one background thread writes the newest value per row, best effort: a write that fails is logged and
counted, and the next note tries again.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Engine, update

from dashboard.db import session_factory
from dashboard.models import ApiToken, User

log = logging.getLogger(__name__)
_COLUMNS = {"token": (ApiToken, "last_used"), "user": (User, "last_login")}


class Bookkeeper:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)
        self._pending: dict[tuple[str, int], datetime] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failed = 0

    def note(self, kind: str, row_id: int, at: datetime) -> None:
        """Remember that ``kind`` ("token" or "user") ``row_id`` was used at ``at``; returns at once."""
        with self._cond:
            self._pending[(kind, row_id)] = at
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="maskwatch-bookkeeping", daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything noted so far was tried (tests); True when nothing is pending."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    _busy = False

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                batch, self._pending = self._pending, {}
                self._busy = True
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, batch: dict[tuple[str, int], datetime]) -> None:
        try:
            with self._sessions() as db:
                for (kind, row_id), at in batch.items():
                    model, column = _COLUMNS[kind]
                    db.execute(update(model).where(model.id == row_id).values({column: at}))
                db.commit()
            self.written += len(batch)
        except Exception:  # best effort: the database may be locked or read-only; the next use tries again
            self.failed += len(batch)
            log.warning("bookkeeping write of %d row(s) failed", len(batch), exc_info=True)
