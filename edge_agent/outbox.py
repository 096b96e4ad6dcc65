"""Durable outgoing queue (SQLite, WAL): a message enters before it is published and leaves only when the
broker acknowledges it (PUBACK), so events survive broker outages, crashes and SIGKILL.

Order: messages are handed to the MQTT client in insertion order; the backlog after a reconnect or a
restart is sent oldest first. Within one process a message is handed over once (paho itself re-sends
unacknowledged QoS 1 messages after a reconnect); after a restart everything still stored is sent again,
so delivery is at least once and consumers dedupe by ``event_id``.

Bounds: at most ``max_messages`` rows (the oldest are dropped), none older than ``max_age_h``, and at
most ``max_bytes`` of payload (the oldest snapshot JPEGs go first, so events outlive their pictures);
every drop is counted (persistently) and logged.

Ages come from the monotonic clock (``CLOCK_MONOTONIC``, comparable across processes of one boot), never
from the wall clock: a Pi without a real-time clock boots with a stale time and NTP then jumps it by days,
which must not make a minute-old message look a week old. Each row stores the boot id with its monotonic
time; rows from an earlier boot are rebased once on open from their wall-clock age (clamped to 0..max_age).

Dead letters: a message the broker refused (an MQTT 5 PUBACK with a failure reason code: not authorised,
quota exceeded, payload too large) is not delivered and must not be deleted as if it were: it moves to the
``dead_letter`` table (bounded, counted per reason, logged once per reason with its topic) where an operator
can see it (``/healthz``) and re-queue it (:meth:`Outbox.requeue_dead_letters`) once the cause is fixed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent import outbox_salvage
from edge_agent.core.topics import Kind, topic_kind
from edge_agent.outbox_buffer import Buffered, DiskFullBuffer, is_disk_full

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL,
    reason TEXT NOT NULL,
    refused_at REAL NOT NULL
);
"""
#: columns added to ``outbox`` after its first release (ALTER TABLE on open). ``kind`` is the topic's
#: :class:`~edge_agent.core.topics.Kind` (NULL for a topic that is not ours), stored so that rules by kind
#: (the byte bound drops snapshots first) are a column comparison, not a pattern over topic strings; rows of
#: an outbox written before the column existed get it computed from their topic when it is added.
_OUTBOX_COLUMNS = {"boot": "TEXT", "mono": "REAL", "kind": "TEXT"}
#: most dead letters kept (the oldest go first, counted as dead_letter_dropped)
MAX_DEAD_LETTERS = 10_000


def boot_id() -> str:
    """This boot's id (Linux); a constant elsewhere (then rows of an earlier boot are never told apart)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class OutMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    in_flight: int
    dropped_full: int
    dropped_age: int
    acked: int
    bytes: int = 0
    dropped_bytes: int = 0
    dead_letters: int = 0  # rows in the dead-letter table now
    dead_lettered: int = 0  # ever moved there (persistent counter)
    disk_full: bool = False  # the last write failed for lack of space; new messages wait in memory
    memory_buffered: int = 0  # messages waiting in memory now
    dropped_disk_full: int = 0  # lost because the disk and the memory buffer were both full


class Outbox:
    """Thread-safe. ``put`` from any thread; ``take`` / ``mark_sent`` / ``ack`` from the sender and the
    MQTT client's callback thread."""

    def __init__(self, path: Path | str, max_messages: int = 100_000, max_age_s: float = 7 * 24 * 3600.0,
                 clock: Callable[[], float] | None = None, max_bytes: int = 512 * 2**20,
                 wall_clock: Callable[[], float] | None = None, boot: str | None = None) -> None:
        """``clock``: the monotonic clock of ages (default ``time.monotonic``); ``wall_clock``: the time stamp
        stored with each row (default ``time.time``); ``boot``: this boot's id (default :func:`boot_id`)."""
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.max_bytes = max_bytes
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._clock = clock or time.monotonic
        self._wall = wall_clock or time.time
        self._boot = boot or boot_id()
        self._dead_logged: set[str] = set()
        self.memory = DiskFullBuffer()
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(str(path))
        except sqlite3.DatabaseError as err:
            if str(path) == ":memory:":
                raise
            self._db = self._recover(err)
        self._lock = threading.RLock()
        self._in_flight: dict[int, int] = {}  # MQTT message id -> row id, within this process
        self._sent: set[int] = set()  # row ids handed to the client and not yet acknowledged (or settling)
        #: row id -> (mark, connection number, monotonic time) of a PUBACKed custody message kept until the
        #: broker shows it saved it (see :meth:`settle`)
        self._settling: dict[int, tuple[int, int, float]] = {}
        self._resume_after = 0  # take(resume=True): every row up to this id is skipped or handed over
        self._acked = 0
        rows, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        self._rows, self._bytes = int(rows), int(size)
        self._rebase_other_boots()
        self.purge_expired()

    def _rebase_other_boots(self) -> None:
        """Rows from an earlier boot (or from before ages were monotonic): their monotonic time is meaningless
        now; estimate their age from the wall clock once, clamped to 0..max_age (a clock set back keeps them)."""
        now_mono, now_wall = self._clock(), self._wall()
        self._db.execute(
            "UPDATE outbox SET mono = ? - MIN(MAX(? - created, 0), ?), boot = ? WHERE boot IS NOT ? OR mono IS NULL",
            (now_mono, now_wall, self.max_age_s, self._boot, self._boot))

    def _recover(self, err: BaseException) -> sqlite3.Connection:
        """A damaged file: move it aside, start a new one with every row still readable and the counters."""
        aside = outbox_salvage.move_aside(self.path)
        found = outbox_salvage.salvage(aside, self.max_messages)
        db = self._open(str(self.path))
        db.executemany("INSERT INTO outbox (id, topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?, ?)",
                       found.rows)
        db.execute("UPDATE outbox SET kind = topic_kind(topic)")
        counters = outbox_salvage.load_counters(self.path)
        for name, value in found.counters.items():
            counters[name] = max(value, counters.get(name, 0))
        counters["lost_corrupt"] = counters.get("lost_corrupt", 0) + found.lost
        counters["salvaged_corrupt"] = counters.get("salvaged_corrupt", 0) + len(found.rows)
        db.executemany("INSERT INTO counters (name, value) VALUES (?, ?)", list(counters.items()))
        outbox_salvage.save_counters(self.path, counters)
        log.error("outbox %s was damaged (%s): moved aside to %s; salvaged %d messages, %d unreadable (counted as "
                  "lost_corrupt)", self.path, err, aside, len(found.rows), found.lost)
        return db

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            db.executescript(_SCHEMA)
            db.create_function("topic_kind", 1, topic_kind, deterministic=True)
            have = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
            for column, kind in _OUTBOX_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE outbox ADD COLUMN {column} {kind}")
            if "kind" not in have:  # an outbox from before the column: the kind of every queued message
                db.execute("UPDATE outbox SET kind = topic_kind(topic)")
            db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    # ------------------------------------------------------------ producing
    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Store a message durably; returns its row id (0 while the disk is full and it waits in memory).
        Enforces the size bound (oldest dropped)."""
        item = Buffered(topic, bytes(payload), int(qos), bool(retain), self._wall(), self._clock())
        with self._lock:
            if len(self.memory) and not self.write_buffered():
                self.memory.add(item)  # behind the others: order is kept
                return 0
            try:
                return self._insert(item)
            except sqlite3.OperationalError as err:
                if not is_disk_full(err):
                    raise
                self.memory.add(item, err)
                return 0

    def write_buffered(self) -> bool:
        """Write messages kept in memory while the disk was full; True once none is left."""
        with self._lock:
            written = 0
            while len(self.memory):
                item = self.memory.pop()
                try:
                    self._insert(item)
                except sqlite3.OperationalError as err:
                    self.memory.push_back(item)
                    if not is_disk_full(err):
                        raise
                    return False
                written += 1
            if self.memory.disk_full:
                try:
                    self._count("disk_full_buffered", self.memory.buffered)
                    self._count("dropped_disk_full", self.memory.dropped)
                except sqlite3.OperationalError as err:
                    if is_disk_full(err):
                        return False
                    raise
                log.warning("outbox disk has space again: wrote %d messages kept in memory (%d lost while the "
                            "memory buffer was full too)", written, self.memory.dropped)
                self.memory.buffered = self.memory.dropped = 0
                self.memory.disk_full = False
            return True

    def _insert(self, item: Buffered) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created, boot, mono, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item.topic, item.payload, item.qos, int(item.retain), item.created, self._boot, item.mono,
                 topic_kind(item.topic)),
            )
            row = int(cur.lastrowid or 0)
            payload = item.payload
            self._rows += 1
            self._bytes += len(payload)
            excess = self._rows - self.max_messages
            if excess > 0:
                self._drop_oldest(excess)
            if self._bytes > self.max_bytes:
                self._shrink()
            return row

    def _drop_oldest(self, n: int) -> None:
        ids = [r[0] for r in self._db.execute("SELECT id FROM outbox ORDER BY id LIMIT ?", (n,))]
        self._delete(ids)
        self._count("dropped_full", len(ids))
        log.warning("outbox full (%d messages): dropped the %d oldest", self.max_messages, len(ids))

    def _shrink(self) -> None:
        """Over the byte bound: drop the oldest snapshots (largest, least vital), then the oldest of any,
        down to 90% of the bound so that the next puts do not each pay for a scan."""
        target = int(self.max_bytes * 0.9)
        dropped = 0
        for where in (f"kind = '{Kind.SNAPSHOT}'", "1"):
            excess = self._bytes - target
            ids: list[int] = []
            for row_id, size in self._db.execute(f"SELECT id, LENGTH(payload) FROM outbox WHERE {where} ORDER BY id"):
                if excess <= 0:
                    break
                ids.append(row_id)
                excess -= size
            self._delete(ids)
            dropped += len(ids)
            if self._bytes <= target:
                break
        self._count("dropped_bytes", dropped)
        log.warning("outbox over %.0f MB: dropped %d messages (oldest snapshots first)", self.max_bytes / 2**20, dropped)

    def purge_expired(self) -> int:
        """Drop messages older than ``max_age_s``; returns how many."""
        with self._lock:
            cutoff = self._clock() - self.max_age_s
            ids = [r[0] for r in self._db.execute("SELECT id FROM outbox WHERE mono < ? ORDER BY id", (cutoff,))]
            if ids:
                self._delete(ids)
                self._count("dropped_age", len(ids))
                log.warning("outbox: dropped %d messages older than %.1f h", len(ids), self.max_age_s / 3600)
            return len(ids)

    # ------------------------------------------------------------ sending
    def take(self, limit: int, skip: Callable[[str], bool] | None = None, *, resume: bool = False) -> list[OutMessage]:
        """Up to ``limit`` stored messages not yet handed over in this process, oldest first; with ``skip``,
        messages whose topic it accepts are passed over (they stay queued in their place). ``resume`` (always
        with the same ``skip``) starts after the rows earlier calls passed over, so a long queue of skipped
        messages is not read again on every call."""
        if skip is not None:
            return self._take_unskipped(limit, skip, resume)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, created FROM outbox ORDER BY id LIMIT ?",
                (limit + len(self._sent),),
            ).fetchall()
            out = [OutMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows if r[0] not in self._sent]
            return out[:limit]

    def _take_unskipped(self, limit: int, skip: Callable[[str], bool], resume: bool) -> list[OutMessage]:
        with self._lock:
            ids: list[int] = []
            start = self._resume_after if resume else 0
            passed = start  # the last row of the unbroken run of skipped or handed-over rows from the start
            for row_id, topic in self._db.execute("SELECT id, topic FROM outbox WHERE id > ? ORDER BY id", (start,)):
                if row_id in self._sent or skip(topic):
                    if not ids:
                        passed = row_id
                    continue
                ids.append(row_id)
                if len(ids) >= limit:
                    break
            if resume:
                self._resume_after = passed
            if not ids:
                return []
            rows = self._db.execute(
                f"SELECT id, topic, payload, qos, retain, created FROM outbox WHERE id IN ({','.join('?' * len(ids))})"
                " ORDER BY id", ids).fetchall()
            return [OutMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows]

    def mark_sent(self, row_id: int, mid: int) -> None:
        """The client accepted the message under MQTT id ``mid``; wait for its acknowledgement."""
        with self._lock:
            self._sent.add(row_id)
            self._in_flight[mid] = row_id

    def ack(self, mid: int) -> bool:
        """The broker acknowledged ``mid``: delete the message. False for an id we do not track."""
        with self._lock:
            row = self._in_flight.pop(mid, None)
            if row is None:
                return False
            self._sent.discard(row)
            self._delete([row])
            self._acked += 1
            return True

    def settle(self, mid: int, mark: int, connection: int) -> bool:
        """The broker PUBACKed ``mid`` with success, but mosquitto sends a PUBACK *before* it writes its store
        (autosave_on_changes saves at the end of the loop iteration), so a broker crash in that moment loses a
        message it acknowledged. Keep the row, out of :meth:`pending`, until :meth:`confirm` shows the broker
        went on past the save; :meth:`unsettle` hands it over again after a reconnect. ``mark``: the sender's
        publish count when the PUBACK was handled. False for an id we do not track."""
        with self._lock:
            row = self._in_flight.pop(mid, None)
            if row is None:
                return False
            self._settling[row] = (mark, connection, self._clock())
            self._acked += 1
            return True

    def confirm(self, connection: int, *, sent_after: int = 0, older_than: float | None = None) -> int:
        """Delete the settling rows of connection number ``connection`` that the broker has certainly saved:
        those PUBACKed before publish number ``sent_after`` was sent (the broker PUBACKed that later one on the
        same connection, so its loop went past their save), and those settled before monotonic time
        ``older_than`` (the connection is still open)."""
        with self._lock:
            done = [row for row, (mark, conn, at) in self._settling.items()
                    if conn == connection and (mark < sent_after or (older_than is not None and at <= older_than))]
            self._delete(done)
            return len(done)

    def unsettle(self, connection: int) -> int:
        """The connection was lost (the broker may have crashed before saving): hand the settling rows of
        earlier connections over again (counted ``resent_unconfirmed``; the dashboard keeps one copy)."""
        with self._lock:
            rows = [row for row, (_, conn, _at) in self._settling.items() if conn != connection]
            for row in rows:
                del self._settling[row]
                self._sent.discard(row)
            if rows:
                self._resume_after = 0
                self._count("resent_unconfirmed", len(rows))
            return len(rows)

    def settling(self) -> int:
        with self._lock:
            return len(self._settling)

    def dead_letter(self, mid: int, reason: str) -> bool:
        """The broker refused ``mid`` (a PUBACK with a failure reason code): move the message to the dead
        letters instead of deleting it as delivered. False for an id we do not track."""
        with self._lock:
            row = self._in_flight.pop(mid, None)
            if row is None:
                return False
            return self.dead_letter_row(row, reason)

    def dead_letter_row(self, row: int, reason: str) -> bool:
        """Move stored message ``row`` to the dead letters (refused, or known to be refused before sending)."""
        with self._lock:
            self._sent.discard(row)
            found = self._db.execute("SELECT topic FROM outbox WHERE id = ?", (row,)).fetchone()
            if found is None:
                return False
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO dead_letter (topic, payload, qos, retain, created, reason, refused_at) "
                    "SELECT topic, payload, qos, retain, created, ?, ? FROM outbox WHERE id = ?",
                    (reason, self._wall(), row))
                self._delete([row])
                self._count("dead_letter", 1)
                self._count(f"dead_letter:{reason}", 1)
                excess = self.dead_letters() - MAX_DEAD_LETTERS
                if excess > 0:
                    self._db.execute("DELETE FROM dead_letter WHERE id IN "
                                     "(SELECT id FROM dead_letter ORDER BY id LIMIT ?)", (excess,))
                    self._count("dead_letter_dropped", excess)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if reason not in self._dead_logged:  # once per cause; the counters have every one
                self._dead_logged.add(reason)
                log.error("the broker refused a message to %r (%s): kept as a dead letter, not delivered; further "
                          "refusals for this reason are counted (dead_letter:%s), not logged", found[0], reason, reason)
            return True

    def dead_letters(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0])

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many messages were ever refused, per reason (persistent counters)."""
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM counters WHERE name LIKE 'dead_letter:%'").fetchall()
            return {name.split(":", 1)[1]: int(value) for name, value in rows}

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back into the queue (after the cause was fixed); returns how many."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, retain FROM dead_letter ORDER BY id").fetchall()
            for _id, topic, payload, qos, retain in rows:
                self.put(topic, bytes(payload), qos, bool(retain))
            self._db.execute("DELETE FROM dead_letter WHERE id <= ?", (rows[-1][0] if rows else 0,))
            return len(rows)

    def topic_in_flight(self, mid: int) -> str | None:
        """The topic of the message handed over under MQTT id ``mid`` (None for an id we do not track)."""
        with self._lock:
            row = self._in_flight.get(mid)
            if row is None:
                return None
            found = self._db.execute("SELECT topic FROM outbox WHERE id = ?", (row,)).fetchone()
            return str(found[0]) if found else None

    def unsend(self, mid: int) -> bool:
        """The broker acknowledged ``mid`` but no subscriber took it: keep the message queued, in its place,
        to be handed over again (counted ``no_subscriber_retries``). False for an id we do not track."""
        with self._lock:
            row = self._in_flight.pop(mid, None)
            if row is None:
                return False
            self._sent.discard(row)
            self._count("no_subscriber_retries", 1)
            return True

    def forget_in_flight(self) -> None:
        """The MQTT client was replaced (its in-memory queue is gone): hand everything over again."""
        with self._lock:
            self._resume_after = 0
            self._in_flight.clear()
            self._sent.clear()
            self._settling.clear()

    def delete_sent(self, row_id: int) -> None:
        """A QoS 0 message was handed over: there is no acknowledgement to wait for."""
        with self._lock:
            self._delete([row_id])
            self._acked += 1

    def delete(self, row_id: int) -> None:
        """Remove a message that can never be sent (e.g. rejected by the client as malformed)."""
        with self._lock:
            self._sent.discard(row_id)
            self._delete([row_id])
            self._count("rejected", 1)

    # ------------------------------------------------------------ bookkeeping
    def pending(self) -> int:
        """Messages stored (handed over or not) or waiting in memory, not yet acknowledged (settling rows
        are acknowledged)."""
        with self._lock:
            return self._rows - len(self._settling) + len(self.memory)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._sent) - len(self._settling)

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            return int(row[0]) if row else 0

    def stats(self) -> OutboxStats:
        with self._lock:
            return OutboxStats(self.pending(), self.in_flight(), self.counter("dropped_full"),
                               self.counter("dropped_age"), self._acked, self._bytes, self.counter("dropped_bytes"),
                               self.dead_letters(), self.counter("dead_letter"), self.memory.disk_full,
                               len(self.memory), self.counter("dropped_disk_full") + self.memory.dropped)

    def _delete(self, ids: list[int]) -> None:
        if ids:
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                marks = ",".join("?" * len(part))
                size = self._db.execute(f"SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN ({marks})",
                                        part).fetchone()[0]
                self._bytes -= int(size)
            cur = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._rows -= max(cur.rowcount, 0)
            for i in ids:
                self._sent.discard(i)
                self._settling.pop(i, None)

    def _count(self, name: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
            (name, n, n),
        )
        if str(self.path) != ":memory:":  # a copy that survives damage to this file (outbox_salvage)
            rows = self._db.execute("SELECT name, value FROM counters").fetchall()
            outbox_salvage.save_counters(self.path, {str(k): int(v) for k, v in rows})

    def close(self) -> None:
        with self._lock:
            self._db.close()
