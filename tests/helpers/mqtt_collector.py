"""A real MQTT subscriber that records every message (persistent session, so nothing is missed while the
broker restarts: mosquitto keeps the session and queues QoS 1 messages for it)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .net import wait_for


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float
    dup: bool = False  # the broker re-sent it to this subscriber (session resumed before our PUBACK)


class Collector:
    def __init__(self, port: int, topic: str = "#", persistent: bool = True) -> None:
        self.topic = topic
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-{uuid.uuid4().hex[:8]}",
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.port = port

    def _on_connect(self, client, userdata, flags, rc, props=None):  # noqa: ANN001
        if not rc.is_failure:
            client.subscribe(self.topic, qos=1)
            self.subscribed.set()

    def _on_message(self, client, userdata, msg):  # noqa: ANN001
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.monotonic(),
                                          bool(msg.dup)))

    def start(self, timeout: float = 10.0) -> Collector:
        self.client.connect_async("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        wait_for(self.subscribed.is_set, timeout, what="collector subscription")
        time.sleep(0.1)  # SUBACK in flight
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, suffix: str, redelivered: bool = True) -> list[Received]:
        """Messages on topics ending with ``suffix``; ``redelivered=False`` leaves out the broker's own
        re-sends to this subscriber (DUP set), which say nothing about how often the publisher sent."""
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix) and (redelivered or not m.dup)]

    def matching(self, part: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if part in m.topic]

    def wait_on(self, suffix: str, timeout: float, count: int = 1,
                predicate=lambda m: True) -> list[Received]:  # noqa: ANN001
        wait_for(lambda: len([m for m in self.on(suffix) if predicate(m)]) >= count, timeout,
                 what=f"{count} message(s) on *{suffix}")
        return [m for m in self.on(suffix) if predicate(m)]
