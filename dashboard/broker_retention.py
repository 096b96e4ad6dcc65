"""No image stays retained on the broker (docs/privacy.md).

The agent never retains an image (snapshots are durable QoS 1 messages, previews QoS 0, neither retained),
but a misconfigured integration or an old release might. A retention run connects, collects what the broker
holds retained under ``{prefix}/#`` and clears every image among it by publishing an empty retained message
to its topic (MQTT's way of deleting a retained message). The ingest also clears one whenever it receives it.
The dashboard's broker user needs write access to those topics (deploy/mosquitto/maskwatch.acl.in).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from edge_agent.core.topics import PREVIEW, SNAPSHOT, parse_topic

if TYPE_CHECKING:
    from edge_agent.config import MQTTConfig

log = logging.getLogger(__name__)
JPEG_SOI = b"\xff\xd8"
IMAGE_KINDS = (SNAPSHOT, PREVIEW)


def is_image_topic(prefix: str, topic: str) -> bool:
    parsed = parse_topic(prefix, topic)
    return parsed is not None and parsed.kind in IMAGE_KINDS


def is_image_message(prefix: str, topic: str, payload: bytes) -> bool:
    """An image topic (snapshot, preview) with a payload, or any payload that is a JPEG."""
    if not payload:
        return False  # already cleared
    return is_image_topic(prefix, topic) or payload.startswith(JPEG_SOI)


def clear_retained_images(mqtt: MQTTConfig, *, prefix: str, username: str | None = None,
                          password: str | None = None, settle_s: float = 1.0, timeout_s: float = 10.0) -> int:
    """Clear every retained image under ``{prefix}/#``; returns how many were cleared (0 when the broker
    cannot be reached: logged, and the next run tries again). The client comes from the one builder
    (``edge_agent.mqtt_connection``), configured by the agent's connection model ``mqtt``; ``username`` and
    ``password`` are the dashboard's own broker user."""
    from edge_agent.mqtt_connection import build_client

    found: dict[str, None] = {}
    subscribed = threading.Event()
    last = [time.monotonic()]
    host, port = mqtt.host, mqtt.port
    conn = build_client(mqtt, f"maskwatch-retention-{uuid.uuid4().hex[:8]}", username=username, password=password)
    client = conn.client

    def on_connect(c, userdata, flags, rc, props=None):  # type: ignore[no-untyped-def]
        if not rc.is_failure:
            c.subscribe(f"{prefix}/#", qos=0)

    def on_subscribe(c, userdata, mid, rcs, props=None):  # type: ignore[no-untyped-def]
        last[0] = time.monotonic()
        subscribed.set()

    def on_message(c, userdata, msg):  # type: ignore[no-untyped-def]
        last[0] = time.monotonic()
        if msg.retain and is_image_message(prefix, msg.topic, bytes(msg.payload)):
            found[msg.topic] = None

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(**conn.connect_args)
    except OSError as err:
        log.warning("retention: cannot reach the broker %s:%d to clear retained images: %s", host, port, err)
        return 0
    client.loop_start()
    try:
        if not subscribed.wait(timeout_s):
            log.warning("retention: no subscription to %s/# on %s:%d; retained images not checked", prefix, host, port)
            return 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() - last[0] < settle_s and time.monotonic() < deadline:
            time.sleep(0.05)  # retained messages arrive right after the SUBACK; wait until they stop
        infos = [client.publish(topic, b"", qos=1, retain=True) for topic in list(found)]
        for info in infos:
            info.wait_for_publish(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    if found:
        log.info("retention: cleared %d retained image message(s) on the broker", len(found))
    return len(found)

