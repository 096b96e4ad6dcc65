"""The one MQTT connection model: how the agent and the dashboard's ingest build a paho-mqtt 2 client.

- MQTT 5 by default (``mqtt.protocol``): every PUBACK carries a reason code, so a publish the broker refuses
  (not authorised, quota exceeded, payload too large) is seen as refused instead of delivered. ``3.1.1`` is for
  brokers that speak nothing newer (amqtt, the demo's embedded fallback); a 3.1.1 PUBACK says only "received",
  so deliveries are then reported as unconfirmed (:attr:`Connection.confirmed`).
- Credentials, TLS, keepalive, reconnect back-off from :class:`edge_agent.config.MQTTConfig`.
- A persistent session (``persistent=True``: clean start off, a long session expiry) for a subscriber whose
  messages the broker must keep while it is away; a clean one for the agent, whose outbox keeps its messages.
- :class:`ConnectionLog` logs each change of connection state once (lost, with the cause and the back-off;
  failing to reconnect, once; back), never once per retry.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config import MQTTConfig

log = logging.getLogger(__name__)

#: Session expiry of a persistent subscriber (MQTT 5): a week, like the agent's outbox age bound. Longer than
#: any outage the deployment plans for; the broker's max_queued_* bounds what it holds meanwhile.
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Connection:
    """A configured (not yet connected) client and the arguments for ``connect_async``."""

    client: mqtt.Client
    connect_args: dict[str, Any]
    v5: bool

    @property
    def confirmed(self) -> bool:
        """Whether a PUBACK says that the broker accepted the message (MQTT 5 reason codes)."""
        return self.v5

    def start(self) -> None:
        self.client.connect_async(**self.connect_args)
        self.client.loop_start()


def build_client(cfg: MQTTConfig, client_id: str, *, username: str | None = None, password: str | None = None,
                 persistent: bool = False, manual_ack: bool = False, receive_maximum: int | None = None,
                 max_inflight: int = 20) -> Connection:
    """A paho client configured from ``cfg``; ``username``/``password`` override the config's (the ingest has
    its own broker user)."""
    v5 = cfg.protocol == "5"
    if v5:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                        manual_ack=manual_ack)
    else:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                        clean_session=not persistent, manual_ack=manual_ack)
    user = username if username is not None else cfg.username
    if user:
        if password is None and username is None and cfg.password is not None:
            password = cfg.password.get_secret_value()
        c.username_pw_set(user, password)
    tls = cfg.tls
    if tls.enabled:
        c.tls_set(ca_certs=str(tls.ca_file) if tls.ca_file else None,
                  certfile=str(tls.cert_file) if tls.cert_file else None,
                  keyfile=str(tls.key_file) if tls.key_file else None, cert_reqs=ssl.CERT_REQUIRED)
        c.tls_insecure_set(tls.insecure)
    c.reconnect_delay_set(min_delay=max(1, round(cfg.reconnect_min_s)), max_delay=max(1, round(cfg.reconnect_max_s)))
    c.max_inflight_messages_set(max_inflight)
    args: dict[str, Any] = {"host": cfg.host, "port": cfg.port, "keepalive": cfg.keepalive_s}
    if v5:
        props = Properties(PacketTypes.CONNECT)
        if persistent:
            props.SessionExpiryInterval = SESSION_EXPIRY_S
        if receive_maximum:
            props.ReceiveMaximum = receive_maximum  # bounds un-acknowledged QoS 1 messages in flight to us
        args.update(clean_start=not persistent, properties=props)
    return Connection(c, args, v5)


class ConnectionLog:
    """Logs connection state changes once each, with the cause, the back-off and (if given) the backlog."""

    def __init__(self, name: str, cfg: MQTTConfig, backlog: Callable[[], int] | None = None) -> None:
        self.name, self.cfg, self.backlog = name, cfg, backlog
        self._lock = threading.Lock()
        self._state = "new"  # new | up | down
        self._since = time.monotonic()
        self.losses = 0

    def _where(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    def _queued(self) -> str:
        if self.backlog is None:
            return ""
        try:
            return f"; {self.backlog()} messages queued"
        except Exception:  # a closed outbox at shutdown: say nothing about it
            return ""

    def connected(self, protocol: str) -> None:
        with self._lock:
            was, self._state = self._state, "up"
            down_s = time.monotonic() - self._since
            self._since = time.monotonic()
        if was == "down":
            log.warning("%s: MQTT connection to %s back after %.0f s (MQTT %s)%s", self.name, self._where(), down_s,
                        protocol, self._queued())
        else:
            log.info("%s: MQTT connected to %s (MQTT %s)%s", self.name, self._where(), protocol, self._queued())

    def lost(self, cause: object) -> None:
        with self._lock:
            was, self._state = self._state, "down"
            if was != "down":
                self._since = time.monotonic()
                self.losses += 1
        if was != "down":
            log.warning("%s: MQTT connection to %s %s (%s); reconnecting with back-off %.0f-%.0f s%s", self.name,
                        self._where(), "lost" if was == "up" else "not established", cause,
                        self.cfg.reconnect_min_s, self.cfg.reconnect_max_s, self._queued())
