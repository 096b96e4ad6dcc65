"""Which messages one of several ingest workers stores (``dashboard.ingest_partition: "I/N"``).

Why not an MQTT shared subscription: on Debian bookworm's mosquitto 2.0.11 a ``$share/...`` subscription is
not restored from the broker's store after a restart, and messages it had acknowledged to the agent with
success were lost (tests/faults/test_faults_scaleout.py measured 3-100 of 1,000 events in about 3 runs of 14;
mosquitto issue #2662 describes in-flight shared messages being dropped). So every worker keeps its own
*plain* persistent subscription to everything: the broker restores it after a restart and queues every
message for every worker while it is away. Each worker then stores only its partition, chosen by a stable
hash of the topic's source (``<prefix>/<site>/camera/<name>`` or ``<prefix>/<site>/agent/<id>``), and
acknowledges the rest unread. One camera's events, snapshots and status therefore always go to the same
worker, in order. Without a partition a worker stores everything; the store is idempotent on event id (it
keeps the highest revision), so several such workers still store each event once.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_SPEC = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True, slots=True)
class Partition:
    """Worker ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"ingest partition {self.index}/{self.count}: the index must be 0..{self.count - 1}")

    @classmethod
    def parse(cls, spec: str) -> Partition:
        m = _SPEC.match(spec.strip())
        if not m:
            raise ValueError(f"ingest partition {spec!r}: expected 'I/N', e.g. '0/2' (worker 0 of 2)")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, topic: str) -> bool:
        """True for the messages this worker stores. The key is the topic's first four levels (prefix, site,
        camera|agent, name): stable across restarts and hosts (CRC-32, not Python's salted ``hash``)."""
        return self.of(topic) == self.index

    def of(self, topic: str) -> int:
        key = "/".join(topic.split("/", 4)[:4]).encode("utf-8", "surrogateescape")
        return zlib.crc32(key) % self.count

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
