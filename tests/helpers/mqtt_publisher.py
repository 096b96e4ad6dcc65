"""A plain MQTT v5 publisher for tests: ``send`` (or call it) waits until the broker has the message."""

from __future__ import annotations

import uuid

import paho.mqtt.client as mqtt


class Publisher:
    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, t: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(t, payload, qos=qos, retain=retain).wait_for_publish(10)

    __call__ = send

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
