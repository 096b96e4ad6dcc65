"""Salvage of a damaged outbox file, and the counters' copy that survives it.

When the outbox's SQLite file is unreadable (or fails ``PRAGMA quick_check``), :func:`move_aside` renames it
(with its WAL, which may hold the newest committed rows) to ``<name>.corrupt-<time>`` and keeps only the
newest :data:`KEEP_ASIDE` such files. :func:`salvage` then reads every row it still can from the moved-aside
copy, one id at a time where whole-table reads fail, and says how many ids could not be read ("lost": an
upper bound, since an id in a damaged page may have been acknowledged already). The counters are also
mirrored to ``<name>.counters.json`` on every change (:func:`save_counters`), so that drops counted before the
damage are still reported after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: moved-aside damaged files kept (older ones are deleted)
KEEP_ASIDE = 3
_COLUMNS = "id, topic, payload, qos, retain, created"


@dataclass(frozen=True, slots=True)
class Salvaged:
    rows: list[tuple[int, str, bytes, int, int, float]]
    lost: int
    counters: dict[str, int]


def move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{time.time_ns()}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.rename(Path(f"{aside}{suffix}"))
    old = sorted(path.parent.glob(f"{path.name}.corrupt-*[0-9]"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_ASIDE:]:
        for p in (stale, Path(f"{stale}-wal"), Path(f"{stale}-shm")):
            p.unlink(missing_ok=True)
        log.warning("outbox: deleted the old damaged copy %s (keeping the newest %d)", stale, KEEP_ASIDE)
    return aside


def _ids(db: sqlite3.Connection, max_messages: int) -> Iterator[int]:
    try:
        yield from (r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id").fetchall())
        return
    except sqlite3.DatabaseError:
        pass
    # the table's own index is damaged: probe ids one by one up to the last one handed out
    hi = int(db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()[0])
    yield from range(max(1, hi - max_messages + 1), hi + 1)


def salvage(aside: Path, max_messages: int) -> Salvaged:
    rows: list[tuple[int, str, bytes, int, int, float]] = []
    lost = 0
    counters: dict[str, int] = {}
    try:
        db = sqlite3.connect(f"file:{aside}?mode=ro", uri=True, timeout=1)
    except sqlite3.DatabaseError as err:
        log.error("outbox: nothing salvaged from %s: %s", aside, err)
        return Salvaged([], 0, {})
    try:
        with contextlib.suppress(sqlite3.DatabaseError):
            counters = {str(n): int(v) for n, v in db.execute("SELECT name, value FROM counters")}
        try:
            ids = list(_ids(db, max_messages))
        except (sqlite3.DatabaseError, TypeError):  # not a database at all, or no sequence to probe
            ids = []
        for i in ids:
            try:
                r = db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (i,)).fetchone()
            except sqlite3.DatabaseError:
                lost += 1
                continue
            if r is not None:
                rows.append((int(r[0]), str(r[1]), bytes(r[2]), int(r[3]), int(r[4]), float(r[5])))
    finally:
        db.close()
    return Salvaged(rows, lost, counters)


def counters_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.counters.json")


def load_counters(path: Path) -> dict[str, int]:
    try:
        return {str(k): int(v) for k, v in json.loads(counters_path(path).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def save_counters(path: Path, counters: dict[str, int]) -> None:
    """Atomic (write + rename); a full disk leaves the previous copy in place."""
    target = counters_path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(json.dumps(counters, sort_keys=True))
        os.replace(tmp, target)
    except OSError as err:
        log.debug("outbox counters not mirrored to %s: %s", target, err)
