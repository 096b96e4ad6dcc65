"""Which agent a camera belongs to, as the ingest sees it: the check where the broker cannot tell.

Camera topics (``<prefix>/<site>/camera/<name>/...``) carry no agent level and a payload's ``agent`` is
self-declared, so unless the installer gave each agent its cameras (``install.sh add-agent --cameras``,
enforced by the broker's ACL) any agent of a site may publish for any camera of it. Two agents configured
with the same camera name (a copied config, a second Pi at the same door) would then merge two streams of
verdicts, statistics and states into one camera, and nobody would notice.

The ingest therefore pins each camera to the agent that reports it. An event, statistics sample or status
from another agent is **refused** (``rejected_agent_mismatch``, logged once per camera and agent, on
``/metrics`` and ``/api/ingest``) while the owner is holding the camera: its availability is ``online``
(that topic *is* per agent in the ACL, so it cannot be forged by another agent) and it reported the camera
within :attr:`CameraClaims.hold_s`. Snapshots and face crops of a refused event are refused with it. When
the owner goes offline or stops (its last will, a clean stop) or falls silent for ``hold_s``, the next agent
that reports the camera takes it over (logged): moving a camera from one Pi to another needs nothing more
than stopping the old agent first, or waiting ``hold_s``.

Owners and availability are seeded from the database (``cameras.agent``, ``agents.availability``) on the
first batch, so a restarted ingest keeps the pins; a seeded owner holds for ``hold_s`` from the restart.
Every worker of a partitioned ingest sees every availability message (they all subscribe to everything), and
one camera's messages always reach the same worker (dashboard.ingest_partition), so the check is local.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Connection, select

from dashboard.messages import AvailabilityMsg, EventMsg, Message, Rejected, SnapshotMsg, payload_of
from dashboard.models import Agent, Camera
from edge_agent.core.topics import ONLINE

log = logging.getLogger(__name__)

#: refused event ids remembered so that their snapshots and face crops are refused too
REFUSED_IDS_KEPT = 10_000


class CameraClaims:
    """Per (site, camera): the owning agent and when it last reported the camera (monotonic seconds)."""

    def __init__(self, hold_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_s = hold_s
        self.clock = clock
        self.owners: dict[tuple[str, str], tuple[str, float]] = {}
        self.online: dict[tuple[str, str], bool] = {}
        self.refused_events: OrderedDict[str, None] = OrderedDict()
        self.seeded = False
        self._logged: set[tuple[str, str, str]] = set()

    def seed(self, conn: Connection) -> None:
        """Owners and availability as the database has them (called once, before the first check)."""
        now = self.clock()
        for site, name, agent in conn.execute(select(Camera.site, Camera.name, Camera.agent)):
            if agent:
                self.owners.setdefault((site, name), (agent, now))
        for site, name, availability in conn.execute(select(Agent.site, Agent.name, Agent.availability)):
            self.online.setdefault((site, name), availability == ONLINE)
        self.seeded = True

    def availability(self, m: AvailabilityMsg) -> None:
        self.online[(m.site, m.agent)] = m.value == ONLINE

    def check(self, m: Message, topic: str) -> Rejected | None:
        """None when ``m`` may be stored (and its agent now owns or keeps the camera), else the rejection."""
        if isinstance(m, SnapshotMsg):
            if m.event_id in self.refused_events:
                return Rejected("agent_mismatch", topic, f"image of refused event {m.event_id}")
            return None
        p = payload_of(m)
        if p is None:
            return None
        key, now = (p.site, p.camera), self.clock()
        owner = self.owners.get(key)
        if owner is not None and owner[0] != p.agent:
            holder, last = owner
            if self.online.get((p.site, holder), False) and now - last < self.hold_s:
                if isinstance(m, EventMsg):
                    self.refused_events[m.event.event_id] = None
                    while len(self.refused_events) > REFUSED_IDS_KEPT:
                        self.refused_events.popitem(last=False)
                if (p.site, p.camera, p.agent) not in self._logged:
                    self._logged.add((p.site, p.camera, p.agent))
                    log.warning("agent %r sent messages for camera %s/%s, which agent %r holds (online, reported "
                                "%.0f s ago): refused and counted as rejected_agent_mismatch; two agents "
                                "configured with one camera name? (docs/mqtt.md, per-agent isolation)",
                                p.agent, p.site, p.camera, holder, now - last)
                return Rejected("agent_mismatch", topic,
                                f"camera {p.site}/{p.camera} belongs to agent {holder!r}, not {p.agent!r}")
            log.info("camera %s/%s moves from agent %r (%s) to agent %r", p.site, p.camera, holder,
                     "online, silent" if self.online.get((p.site, holder), False) else "not online", p.agent)
        self.owners[key] = (p.agent, now)
        return None
