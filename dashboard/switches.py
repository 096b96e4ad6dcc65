"""Send a runtime switch command (``.../camera/<cam>/<enabled|notifications>/set``) as the dashboard's MQTT
user. The agent applies it and answers with the retained ``.../state``, which the ingest stores on the
camera row: the page shows what the agent confirmed, not what was asked."""

from __future__ import annotations

import logging
import ssl
import uuid
from collections.abc import Mapping
from typing import Any

from edge_agent.core.topics import OFF, ON, SET, SWITCHES, Topics

log = logging.getLogger(__name__)


class SwitchError(Exception):
    """The command could not be handed to the broker."""


def mqtt_settings(cfg: Any) -> dict[str, Any]:
    """Flask settings for the web process's MQTT commands (from the one config)."""
    d, m = cfg.dashboard, cfg.mqtt
    return {"MQTT_HOST": m.host, "MQTT_PORT": m.port, "MQTT_USERNAME": d.mqtt_username,
            "MQTT_PASSWORD": d.mqtt_password.get_secret_value() if d.mqtt_password else None, "MQTT_TLS": m.tls}


def send_switch(settings: Mapping[str, Any], site: str, camera: str, switch: str, on: bool,
                timeout_s: float = 5.0) -> None:
    import paho.mqtt.client as mqtt

    if switch not in SWITCHES:
        raise SwitchError(f"unknown switch {switch!r}; allowed: {', '.join(SWITCHES)}")
    topic = Topics(settings.get("TOPIC_PREFIX", "maskwatch"), site).switch(camera, switch, SET)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"maskwatch-dashboard-cmd-{uuid.uuid4().hex[:8]}")
    if settings.get("MQTT_USERNAME"):
        c.username_pw_set(settings["MQTT_USERNAME"], settings.get("MQTT_PASSWORD"))
    tls = settings.get("MQTT_TLS")
    if tls is not None and getattr(tls, "enabled", False):
        c.tls_set(ca_certs=str(tls.ca_file) if tls.ca_file else None, cert_reqs=ssl.CERT_REQUIRED,
                  certfile=str(tls.cert_file) if tls.cert_file else None,
                  keyfile=str(tls.key_file) if tls.key_file else None)
        c.tls_insecure_set(bool(tls.insecure))
    try:
        c.connect(settings.get("MQTT_HOST", "127.0.0.1"), int(settings.get("MQTT_PORT", 1883)), keepalive=10)
        c.loop_start()
        info = c.publish(topic, ON if on else OFF, qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise SwitchError("the broker did not acknowledge the command")
    except (OSError, RuntimeError, ValueError) as err:
        raise SwitchError(f"cannot reach the MQTT broker: {err}") from None
    finally:
        c.disconnect()
        c.loop_stop()
