"""Send a runtime switch command (``.../camera/<cam>/<enabled|notifications>/set``) as the dashboard's MQTT
user. The agent applies it and answers with the retained ``.../state``, which the ingest stores on the
camera row: the page shows what the agent confirmed, not what was asked."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from edge_agent.core.topics import OFF, ON, SET, SWITCHES, Topics

log = logging.getLogger(__name__)


class SwitchError(Exception):
    """The command could not be handed to the broker."""


def send_switch(settings: Mapping[str, Any], site: str, camera: str, switch: str, on: bool,
                timeout_s: float = 5.0) -> None:
    from edge_agent.config import MQTTConfig, TLSConfig
    from edge_agent.mqtt_connection import build_client

    if switch not in SWITCHES:
        raise SwitchError(f"unknown switch {switch!r}; allowed: {', '.join(SWITCHES)}")
    topic = Topics(settings.get("TOPIC_PREFIX", "maskwatch"), site).switch(camera, switch, SET)
    tls = settings.get("MQTT_TLS")
    cfg = MQTTConfig(host=settings.get("MQTT_HOST", "127.0.0.1"), port=int(settings.get("MQTT_PORT", 1883)),
                     keepalive_s=10, protocol=settings.get("MQTT_PROTOCOL", "5"),
                     tls=tls if isinstance(tls, TLSConfig) else TLSConfig())
    conn = build_client(cfg, f"maskwatch-dashboard-cmd-{uuid.uuid4().hex[:8]}",
                        username=settings.get("MQTT_USERNAME") or None, password=settings.get("MQTT_PASSWORD"))
    c = conn.client
    refused: list[str] = []
    c.on_publish = lambda client, userdata, mid, rc, props=None: (  # MQTT 5: the broker may refuse it
        refused.append(str(rc)) if getattr(rc, "is_failure", False) else None)
    try:
        c.connect(**conn.connect_args)
        c.loop_start()
        info = c.publish(topic, ON if on else OFF, qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise SwitchError("the broker did not acknowledge the command")
        if refused:
            raise SwitchError(f"the broker refused the command: {refused[0]}")
    except (OSError, RuntimeError, ValueError) as err:
        raise SwitchError(f"cannot reach the MQTT broker: {err}") from None
    finally:
        c.disconnect()
        c.loop_stop()
