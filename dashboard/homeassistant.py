"""Home Assistant MQTT discovery, published by the ingest process (it knows every camera and today's counts).

Per camera one HA device with: a ``violation`` binary sensor (``ON`` on each new event, off after
``violation_on_s`` via HA's ``off_delay``), sensors for today's compliance %, people and the per-verdict
counts, an image entity with the latest violation snapshot, and switches for detection and notifications
(command ``.../<switch>/set``, state the agent's retained ``.../<switch>/state``). Availability is the
agent's ``available`` topic and the camera's status, mapped with templates onto HA's two payloads (the
agent's ``stopped`` is ``offline``); every entity needs both (``availability_mode: all``).

Discovery configs are retained under ``<discovery_prefix>/<component>/<node>/<object>/config``. The latest
snapshot is retained on ``.../camera/<cam>/ha/snapshot`` and cleared (an empty retained message) once it is
older than ``snapshot_expire_s``; never published when images are off (``homeassistant.snapshot: false``
or a privacy mode without images).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dashboard.alerts_settings import HomeAssistantConfig
from dashboard.models import Camera, Snapshot
from dashboard.notify import NewEvent
from dashboard.queries import camera_json
from dashboard.statistics import today_by_camera
from dashboard.zones import SiteZones
from edge_agent.core.labels import LABELS, MASK_INCORRECT, WITH_MASK, WITHOUT_MASK
from edge_agent.core.topics import (
    ENABLED,
    NOTIFICATIONS,
    OFF,
    OFFLINE,
    ON,
    ONLINE,
    SET,
    STATE,
    STATUS,
    Topics,
)

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes | str, bool], None]  # (topic, payload, retain)
AVAILABLE_TEMPLATE = f"{{{{ '{ONLINE}' if value == '{ONLINE}' else '{OFFLINE}' }}}}"  # the values are core's
STATUS_TEMPLATE = f"{{{{ '{ONLINE}' if value_json.state == '{ONLINE}' else '{OFFLINE}' }}}}"
#: the per-label count sensors: Home Assistant entity name and icon for each core label (the keys are core's)
LABEL_SENSORS = {WITH_MASK: ("With mask today", "mdi:face-mask"), WITHOUT_MASK: ("Without mask today", "mdi:face-man"),
                 MASK_INCORRECT: ("Mask worn incorrectly today", "mdi:face-mask-outline")}
COUNTS = (("people", "People today", "mdi:account-group"), *((label, *LABEL_SENSORS[label]) for label in LABELS),
          ("violations", "Violations today", "mdi:alert"))


def node_id(site: str, camera: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"maskwatch_{site}_{camera}")


def discovery_topic(ha: HomeAssistantConfig, component: str, node: str, obj: str) -> str:
    """Where Home Assistant reads an entity's discovery config (retained)."""
    return f"{ha.discovery_prefix}/{component}/{node}/{obj}/config"


def images_allowed(ha: HomeAssistantConfig, config: Any = None, camera: str | None = None) -> bool:
    """The image entity respects the privacy mode (docs/privacy.md): nothing for a camera in ``no_images``
    (its own ``privacy_mode`` or the site's ``privacy.mode``, as the dashboard's config says)."""
    if not ha.snapshot:
        return False
    privacy = getattr(config, "privacy", None)
    mode = getattr(privacy, "mode", None)
    for cam in getattr(config, "cameras", None) or ():
        if cam.name == camera and hasattr(config, "privacy_mode"):
            mode = config.privacy_mode(cam)
    return mode != "no_images"


def discovery(ha: HomeAssistantConfig, topics: Topics, camera: str, agent: str | None,
              with_image: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(topic, payload) of every discovery config for one camera."""
    node = node_id(topics.site, camera)
    device = {"identifiers": [node], "name": f"MaskWatch {topics.site}/{camera}", "manufacturer": "MaskWatch",
              "model": "mask-compliance camera"}
    availability = [{"topic": topics.camera(camera, STATUS), "value_template": STATUS_TEMPLATE,
                     "payload_available": ONLINE, "payload_not_available": OFFLINE}]
    if agent:
        availability.insert(0, {"topic": topics.available(agent), "value_template": AVAILABLE_TEMPLATE,
                                "payload_available": ONLINE, "payload_not_available": OFFLINE})
    common = {"device": device, "availability": availability, "availability_mode": "all",
              "origin": {"name": "MaskWatch"}}
    state = topics.ha(camera, "state")
    out: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, obj: str, **cfg: Any) -> None:
        out.append((discovery_topic(ha, component, node, obj),
                    {"unique_id": f"{node}_{obj}", "object_id": f"{node}_{obj}", **cfg, **common}))

    add("binary_sensor", "violation", name="Violation", device_class="problem",
        state_topic=topics.ha(camera, "violation"), payload_on=ON, payload_off=OFF, off_delay=ha.violation_on_s)
    add("sensor", "compliance", name="Compliance today", state_topic=state, unit_of_measurement="%",
        state_class="measurement", icon="mdi:percent",
        value_template="{{ (value_json.compliance * 100) | round(1) if value_json.compliance is not none "
                       "else 'None' }}")
    for key, name, icon in COUNTS:
        add("sensor", key, name=name, state_topic=state, state_class="total_increasing", icon=icon,
            value_template=f"{{{{ value_json.{key} }}}}")
    if with_image:
        add("image", "latest_violation", name="Latest violation", image_topic=topics.ha(camera, "snapshot"),
            content_type="image/jpeg")
    for switch, name, icon in ((ENABLED, "Detection", "mdi:cctv"), (NOTIFICATIONS, "Notifications", "mdi:bell")):
        add("switch", switch, name=name, icon=icon, command_topic=topics.switch(camera, switch, SET),
            state_topic=topics.switch(camera, switch, STATE), payload_on=ON, payload_off=OFF, optimistic=False)
    return out


class HomeAssistantPublisher:
    """Keeps Home Assistant's view current; called by the ingest after each committed batch."""

    def __init__(self, engine: Engine, ha: HomeAssistantConfig, prefix: str, snapshot_dir: Path,
                 publish: Publish, zones: SiteZones | str = "UTC", config: Any = None) -> None:
        self.engine, self.ha, self.prefix = engine, ha, prefix
        self.snapshot_dir = Path(snapshot_dir)
        self.publish = publish
        self.zones = SiteZones.of_any(zones)
        self.config = config
        retention = getattr(getattr(config, "dashboard", None), "retention", None)
        days = getattr(retention, "snapshots_days", None)  # never keep an image past image retention
        self.expire_s = min(ha.snapshot_expire_s, days * 86400) if days else ha.snapshot_expire_s
        self._announced: set[int] = set()
        self._snapshots: dict[tuple[str, str], float] = {}  # (site, camera) -> monotonic time published
        self._lock = threading.RLock()  # reset() runs on a connect thread, after_batch() on the writer

    def reset(self) -> None:
        """After a (re)connect: announce every known camera again, publish its state, and clear a retained
        image left by an earlier run once it is past its age."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._announced.clear()
        with Session(self.engine) as db:
            ids = list(db.scalars(select(Camera.id)))
            newest = dict(db.execute(select(Snapshot.camera_id, func.max(Snapshot.received_at))
                                     .group_by(Snapshot.camera_id)).all())
            cams = {c.id: (c.site, c.name) for c in db.scalars(select(Camera))}
        now_wall, now = datetime.now(UTC), time.monotonic()
        for cid, (site, name) in cams.items():
            at = newest.get(cid)
            age = (now_wall - at).total_seconds() if at is not None else float("inf")
            self._snapshots[(site, name)] = now - age  # expire_snapshots clears those already too old
        self._after_batch(ids, [])

    def _announce(self, cam: Camera) -> None:
        topics = Topics(self.prefix, cam.site)
        images = images_allowed(self.ha, self.config, cam.name)
        for topic, payload in discovery(self.ha, topics, cam.name, cam.agent, images):
            self.publish(topic, json.dumps(payload, separators=(",", ":")), True)
        if not images:  # a config from before images were switched off must not linger
            self.publish(discovery_topic(self.ha, "image", node_id(cam.site, cam.name), "latest_violation"), b"", True)
            self.publish(topics.ha(cam.name, "snapshot"), b"", True)
        self._announced.add(cam.id)

    def after_batch(self, camera_ids: Iterable[int], new_events: Iterable[NewEvent]) -> None:
        with self._lock:
            self._after_batch(camera_ids, new_events)

    def _after_batch(self, camera_ids: Iterable[int], new_events: Iterable[NewEvent]) -> None:
        ids = set(camera_ids)
        events = list(new_events)
        ids |= {e.camera_id for e in events}
        if not ids:
            self.expire_snapshots()
            return
        with Session(self.engine) as db:
            cams = {c.id: c for c in db.scalars(select(Camera).where(Camera.id.in_(ids)))}
            by_tz: dict[str, list[int]] = {}
            for c in cams.values():
                by_tz.setdefault(self.zones.of(c.site), []).append(c.id)
            for tz, cids in by_tz.items():
                today = today_by_camera(db, tz)
                for cid in cids:
                    cam = cams[cid]
                    if cid not in self._announced:
                        self._announce(cam)
                    state = camera_json(cam, today.get(cid))["today"]
                    self.publish(Topics(self.prefix, cam.site).ha(cam.name, "state"), json.dumps(state), True)
            latest: dict[int, NewEvent] = {}
            for e in events:
                if e.camera_id not in latest or latest[e.camera_id].event.time <= e.event.time:
                    latest[e.camera_id] = e
            for cid, e in latest.items():
                if cid not in cams:
                    continue
                topics = Topics(self.prefix, cams[cid].site)
                self.publish(topics.ha(cams[cid].name, "violation"), ON, False)
                if images_allowed(self.ha, self.config, cams[cid].name):
                    snap = db.get(Snapshot, e.event.event_id)
                    path = self.snapshot_dir / snap.path if snap is not None else None
                    if path is not None and path.is_file():
                        self.publish(topics.ha(cams[cid].name, "snapshot"), path.read_bytes(), True)
                        self._snapshots[(cams[cid].site, cams[cid].name)] = time.monotonic()
        self.expire_snapshots()

    def expire_snapshots(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for (site, cam), at in list(self._snapshots.items()):
            if now - at >= self.expire_s:
                self.publish(Topics(self.prefix, site).ha(cam, "snapshot"), b"", True)  # clears the retained image
                del self._snapshots[(site, cam)]
