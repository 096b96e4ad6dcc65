"""The outbox's bounded memory buffer for when its disk is full (SQLite "database or disk is full").

While the disk is full, new messages wait here, in order, up to ``max_messages`` / ``max_bytes`` (the oldest
are dropped past that, and counted); each later ``put`` (and the agent's main loop) tries to write them to
the outbox first, so that the order is kept and they go out once space returns. The counters live in
memory until the outbox can write them. Nothing here is durable: a crash while the disk is full loses the
buffer - which is why the agent raises a health alarm (``/healthz`` ``alarms: ["disk_full"]``) at once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, sqlite3.OperationalError) and "full" in str(err).lower()


@dataclass(frozen=True, slots=True)
class Buffered:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float  # wall clock, as stored in the outbox
    mono: float  # monotonic time when it was put


class DiskFullBuffer:
    """Not thread-safe: the outbox calls it under its own lock."""

    def __init__(self, max_messages: int = 5000, max_bytes: int = 16 * 2**20) -> None:
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.items: deque[Buffered] = deque()
        self.bytes = 0
        self.buffered = 0  # ever buffered (since the counters were last written to the outbox)
        self.dropped = 0  # dropped because the buffer was full too (likewise)
        self.disk_full = False

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Buffered, err: BaseException | None = None) -> None:
        if not self.disk_full:
            self.disk_full = True
            log.error("outbox disk is full (%s): keeping new messages in memory (at most %d, %.0f MB) until space "
                      "returns; a crash meanwhile loses them", err, self.max_messages, self.max_bytes / 2**20)
        self.items.append(item)
        self.bytes += len(item.payload)
        self.buffered += 1
        while len(self.items) > self.max_messages or (self.bytes > self.max_bytes and len(self.items) > 1):
            old = self.items.popleft()
            self.bytes -= len(old.payload)
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("outbox disk still full and the memory buffer too: dropped %d messages so far", self.dropped)

    def pop(self) -> Buffered:
        item = self.items.popleft()
        self.bytes -= len(item.payload)
        return item

    def push_back(self, item: Buffered) -> None:
        self.items.appendleft(item)
        self.bytes += len(item.payload)
