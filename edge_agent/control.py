"""Runtime switches per camera: detection (``enabled``) and ``notifications``, set over MQTT, kept on disk.

The dashboard (or Home Assistant through the dashboard's broker user) publishes ``ON`` / ``OFF`` to
``.../camera/<cam>/<switch>/set``; the agent applies it at once (the analysis loop reads the flag before
every frame), writes the state file, and publishes the retained ``.../<switch>/state`` through the durable
outbox. The file survives restarts; on start every camera's state is published again. ``notifications`` is
honoured by the dashboard (it reads the retained state); the agent only owns and persists it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from edge_agent.core.topics import OFF, ON, SWITCHES, Kind, parse_topic

log = logging.getLogger(__name__)
TRUE = {"on", "true", "1", "enable", "enabled"}
FALSE = {"off", "false", "0", "disable", "disabled"}


def parse_switch_payload(payload: bytes) -> bool | None:
    word = payload.decode("utf-8", errors="replace").strip().lower()
    return True if word in TRUE else False if word in FALSE else None


class Switches:
    """Thread-safe switch states, persisted as JSON; ``publish(topic, payload)`` announces a state."""

    def __init__(self, path: Path, cameras: Iterable[str], prefix: str, site: str,
                 publish: Callable[[str, str, str], None]) -> None:
        self.path = Path(path)
        self.prefix, self.site = prefix, site
        self.publish = publish  # (camera, switch, "ON"|"OFF")
        self.rejected = 0
        self.changes = 0
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, bool]] = {c: {s: True for s in SWITCHES} for c in cameras}
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            log.error("switch state file %s unreadable (%s); every switch starts ON", self.path, err)
            return
        for cam, values in (data.get("cameras") or {}).items() if isinstance(data, dict) else ():
            if cam in self._state and isinstance(values, dict):
                for s in SWITCHES:
                    if isinstance(values.get(s), bool):
                        self._state[cam][s] = values[s]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"cameras": self._state}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def get(self, camera: str, switch: str) -> bool:
        return self._state.get(camera, {}).get(switch, True)

    def announce_all(self) -> None:
        with self._lock:
            states = [(c, s, v) for c, d in self._state.items() for s, v in d.items()]
        for cam, switch, value in states:
            self.publish(cam, switch, ON if value else OFF)

    def set(self, camera: str, switch: str, value: bool) -> bool:
        """Apply and persist; False for an unknown camera or switch."""
        if camera not in self._state or switch not in SWITCHES:
            return False
        with self._lock:
            changed = self._state[camera][switch] != value
            self._state[camera][switch] = value
            if changed:
                try:
                    self._save()
                except OSError as err:
                    log.error("cannot save switch state to %s: %s (applied, not persisted)", self.path, err)
        if changed:
            self.changes += 1
            log.info("camera %s: %s %s", camera, switch, "ON" if value else "OFF")
        self.publish(camera, switch, ON if value else OFF)
        return True

    def on_message(self, topic: str, payload: bytes) -> None:
        """MQTT handler for ``.../camera/+/+/set`` (paho's thread: quick, never raises)."""
        parsed = parse_topic(self.prefix, topic)
        value = parse_switch_payload(payload)
        if (parsed is None or parsed.kind != Kind.SWITCH or parsed.action != "set" or parsed.site != self.site
                or value is None or parsed.camera is None or parsed.switch is None
                or not self.set(parsed.camera, parsed.switch, value)):
            self.rejected += 1
            log.warning("ignored switch command on %r (%d bytes): expected ON or OFF for a camera of this agent",
                        topic[:200], len(payload))
