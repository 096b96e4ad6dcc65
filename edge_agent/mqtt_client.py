"""paho-mqtt 2.x adapter: connection, availability, reconnect, and the outbox sender.

- Credentials, TLS and client id from :class:`MQTTConfig`.
- Last will ``<prefix>/<site>/agent/<agent>/available = offline`` (retained); ``online`` on every connect,
  ``stopped`` on a clean exit.
- Reconnect with doubling back-off (``reconnect_delay_set``); subscriptions renewed in ``on_connect``.
- The client comes from :func:`edge_agent.mqtt_connection.build_client` (MQTT 5 unless configured otherwise;
  the same builder as the dashboard's ingest).
- :class:`OutboxSender` hands stored messages to paho in order while connected and deletes each one when
  its PUBACK arrives with a success code; a PUBACK with a failure reason code (MQTT 5: not authorised, quota
  exceeded, payload too large, ...) moves it to the outbox's dead letters, counted and logged once per cause.
  paho calls ``on_publish`` while holding its own lock, so the callback only queues the message id; the sender
  thread does all outbox bookkeeping (no lock-order deadlock, no ack race).
- "No matching subscribers" (MQTT 5 reason code 0x10, a success code): for the kinds that must reach the
  dashboard (:data:`edge_agent.core.topics.CUSTODY_KINDS`: events, snapshots, face crops and their revisions)
  nobody has taken custody, so the message stays queued in its place and is sent again, one probe at a time
  with the reconnect back-off, until a subscriber takes it (counted ``no_subscriber_retries``; logged once when
  the agent starts waiting, once when a subscriber is back). Best-effort kinds (previews, stats, status) are
  deleted as before. mosquitto answers 0x10 when no session subscribes, e.g. before the first ingest started or
  after a restart of mosquitto 2.0.11, which does not restore shared subscriptions.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from edge_agent.config import MQTTConfig
from edge_agent.core.topics import OFFLINE, ONLINE, STOPPED, Topics, needs_custody
from edge_agent.mqtt_connection import ConnectionLog, build_client
from edge_agent.outbox import Outbox, OutMessage

log = logging.getLogger(__name__)

#: what :class:`AckListener` gets for a PUBACK with reason code 0x10 (a success code that matched no subscriber)
NO_SUBSCRIBERS = "No matching subscribers"
NO_MATCHING_SUBSCRIBERS_RC = 0x10
#: what :class:`AckListener` gets for the UNSUBACK of :meth:`MqttLink.sync` (not a PUBACK)
SYNCED = "synced"

MessageHandler = Callable[[str, bytes], None]
#: ``(mid, failure)``: failure is None for a PUBACK that confirms delivery, :data:`NO_SUBSCRIBERS` for one that
#: confirms receipt by the broker but matched no subscriber, else the broker's failure reason
AckListener = Callable[[int, "str | None"], None]


def client_id_for(cfg: MQTTConfig, site: str, agent_id: str) -> str:
    return cfg.client_id or f"maskwatch-{site}-{agent_id}"


class MqttLink:
    """One paho client with the agent's availability protocol. Start with :meth:`start`."""

    def __init__(self, cfg: MQTTConfig, site: str, agent_id: str,
                 backlog: Callable[[], int] | None = None) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.topic_prefix, site)
        self.available_topic = self.topics.available(agent_id)
        self.connected = threading.Event()
        self.connects = 0
        self._subscriptions: dict[str, tuple[int, MessageHandler]] = {}
        self._ack_listeners: list[AckListener] = []
        self._connect_listeners: list[Callable[[], None]] = []
        self.conn_log = ConnectionLog("agent", cfg, backlog)
        #: the broker's Maximum Packet Size (MQTT 5 CONNACK), None when it sets none
        self.max_packet: int | None = None
        self.connection = build_client(cfg, client_id_for(cfg, site, agent_id))
        self.client = self.connection.client
        self.client.will_set(self.available_topic, OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_message = self._on_message

    @property
    def confirmed(self) -> bool:
        """PUBACKs confirm acceptance (MQTT 5); False on 3.1.1, where a refused publish is acknowledged too."""
        return self.connection.confirmed

    # ------------------------------------------------------------ wiring
    def on_ack(self, fn: AckListener) -> None:
        """``fn(mid, failure)`` runs on paho's thread (holding paho's lock): it must only queue them."""
        self._ack_listeners.append(fn)

    def on_connected(self, fn: Callable[[], None]) -> None:
        self._connect_listeners.append(fn)

    def subscribe(self, topic: str, handler: MessageHandler, qos: int = 1) -> None:
        """Subscribe now (if connected) and again on every reconnect."""
        self._subscriptions[topic] = (qos, handler)
        if self.connected.is_set():
            self.client.subscribe(topic, qos)

    # ------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if rc.is_failure:
            self.conn_log.lost(f"broker refused the connection: {rc}")
            return
        self.connects += 1
        self.max_packet = getattr(props, "MaximumPacketSize", None) if props is not None else None
        self.conn_log.connected(self.cfg.protocol)
        client.publish(self.available_topic, ONLINE, qos=1, retain=True)
        for topic, (qos, _) in self._subscriptions.items():
            client.subscribe(topic, qos)
        self.connected.set()
        for fn in self._connect_listeners:
            try:
                fn()
            except Exception:
                log.exception("MQTT on-connect listener failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.conn_log.lost("broker unreachable")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        self.connected.clear()
        if rc.is_failure or rc.value != 0:
            self.conn_log.lost(rc)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
        failure = str(rc) if rc is not None and getattr(rc, "is_failure", False) else None
        if failure is None and getattr(rc, "value", 0) == NO_MATCHING_SUBSCRIBERS_RC:
            failure = NO_SUBSCRIBERS
        for fn in self._ack_listeners:
            fn(mid, failure)

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int, *args: Any) -> None:
        for fn in self._ack_listeners:
            fn(mid, SYNCED)

    def sync(self) -> int:
        """A round trip through the broker's loop that changes nothing: UNSUBSCRIBE from our own availability
        topic, which this client never subscribes to. Its UNSUBACK (to ack listeners as :data:`SYNCED`) comes
        after the broker finished with everything this client sent before. Returns the packet id (0: not
        connected)."""
        rc, mid = self.client.unsubscribe(self.available_topic)
        return mid if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None else 0

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        for topic, (_, handler) in self._subscriptions.items():
            if mqtt.topic_matches_sub(topic, msg.topic):
                try:
                    handler(msg.topic, msg.payload)
                except Exception:  # a malformed message must not kill the network thread
                    log.exception("MQTT handler for %s failed on a message of %d bytes", msg.topic, len(msg.payload))

    # ------------------------------------------------------------ use
    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with back-off until :meth:`stop`."""
        self.connection.start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self, timeout: float = 3.0) -> bool:
        """Clean exit: publish ``stopped`` (retained), wait for its PUBACK, disconnect (no will)."""
        delivered = False
        if self.connected.is_set():
            try:
                info = self.publish(self.available_topic, STOPPED, qos=1, retain=True)
                info.wait_for_publish(timeout)
                delivered = info.is_published()
            except (RuntimeError, ValueError) as err:
                log.warning("could not publish 'stopped': %s", err)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()
        return delivered


def packet_size(topic: str, payload: bytes) -> int:
    """An upper bound of a QoS 1 PUBLISH packet's size (fixed header, topic, packet id, properties)."""
    return 5 + 2 + len(topic.encode()) + 2 + 4 + len(payload)


class OutboxSender:
    """Moves messages from the :class:`Outbox` to the broker, oldest first, ``window`` at a time."""

    def __init__(self, outbox: Outbox, link: MqttLink, window: int = 100) -> None:
        self.outbox = outbox
        self.link = link
        self.window = window
        self.published = 0
        self.rejected = 0
        self.dead_lettered = 0
        #: no subscriber matched a custody message: probe with one message at a time after ``_retry_at``
        self.waiting_for_subscriber = False
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._events: queue.Queue[tuple[int, str | None, int] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: publish numbers (QoS 1): a PUBACK for publish n shows the broker saved what it PUBACKed before n
        self._seq = 0
        self._mid_seq: dict[int, int] = {}
        self._connection_seen = 0
        self._sync: tuple[int, int] | None = None  # (packet id, publish number) of the sync in flight
        #: a PUBACKed custody message still open after this long on the same connection counts as saved: a
        #: keepalive round trip (paho drops a connection whose ping goes unanswered) went through the broker
        self.settle_s = 2.0 * link.cfg.keepalive_s
        # the connection number is read on paho's thread: a PUBACK of a lost connection stays of that connection
        link.on_ack(lambda mid, failure: self._events.put((mid, failure, link.connects)))
        link.on_connected(self.wake)

    def wake(self) -> None:
        """New messages are stored (or the link came up): send soon."""
        self._events.put(None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._drain_acks()

    def flush(self, timeout: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while self.outbox.pending() > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _drain_acks(self) -> None:
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._ack(*item)

    def _ack(self, mid: int, failure: str | None, connection: int = 0) -> None:
        if failure == SYNCED:
            if self._sync is not None and self._sync[0] == mid:
                self.outbox.confirm(connection, sent_after=self._sync[1])
                self._sync = None
            return
        seq = self._mid_seq.pop(mid, 0)
        if seq:  # a PUBACK shows the broker's loop went past the saves of what it acknowledged before it was sent
            self.outbox.confirm(connection, sent_after=seq)
        if failure == NO_SUBSCRIBERS:
            topic = self.outbox.topic_in_flight(mid)
            if topic is not None and needs_custody(self.link.topics.prefix, topic):
                if self.outbox.unsend(mid):
                    self._no_subscriber(topic)
                return
            failure = None  # best effort: the broker received it, nobody wanted it
        if failure is None:
            topic = self.outbox.topic_in_flight(mid)
            custody = topic is not None and needs_custody(self.link.topics.prefix, topic)
            done = self.outbox.settle(mid, self._seq, connection) if custody else self.outbox.ack(mid)
            if custody and connection != self.link.connects:  # acknowledged on a connection lost since
                self.outbox.unsettle(self.link.connects)
            if done and custody and self.waiting_for_subscriber:
                self._subscriber_back()
        elif self.outbox.dead_letter(mid, failure):
            self.dead_lettered += 1

    def _no_subscriber(self, topic: str) -> None:
        cfg = self.link.cfg
        if not self.waiting_for_subscriber:
            self.waiting_for_subscriber = True
            self._retry_delay = cfg.reconnect_min_s
            log.warning("the broker has no subscriber for %r (MQTT reason 0x10, no dashboard ingest subscribed): "
                        "events, snapshots and face crops stay queued (%d messages) and are sent again with "
                        "back-off %.0f-%.0f s until a subscriber takes them", topic, self.outbox.pending(),
                        cfg.reconnect_min_s, cfg.reconnect_max_s)
            self._retry_at = time.monotonic() + self._retry_delay  # the first probe (see _send)

    def _subscriber_back(self) -> None:
        self.waiting_for_subscriber = False
        self._retry_at = 0.0
        log.warning("a subscriber took custody again: sending the %d queued messages (%d resent after 'no matching "
                    "subscribers' so far)", self.outbox.pending(), self.outbox.counter("no_subscriber_retries"))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._events.get(timeout=1.0)
                if item is not None:
                    self._ack(*item)
                self._drain_acks()
                if self.link.connected.is_set():
                    self._send()
            except queue.Empty:
                if self.link.connected.is_set():
                    self._send_safely()
            except Exception:  # loop boundary
                log.exception("outbox sender failed; retrying")
                self._stop.wait(1.0)

    def _send_safely(self) -> None:
        try:
            self._send()
        except Exception:
            log.exception("outbox sender failed; retrying")

    def _settle(self) -> None:
        """Settling custody messages (Outbox.settle): saved by the broker after settle_s on one connection;
        handed over again when the connection was lost in between."""
        connection = self.link.connects
        if connection != self._connection_seen:
            self._connection_seen = connection
            self._sync = None
            n = self.outbox.unsettle(connection)
            if n:
                log.warning("the connection to the broker was lost within %.0f s of %d acknowledgements: sending "
                            "those messages again (a broker that crashed may not have saved them)", self.settle_s, n)
        if self.link.connected.is_set():
            self.outbox.confirm(connection, older_than=time.monotonic() - self.settle_s)

    def _send(self) -> None:
        self._settle()
        try:
            self._send_window()
        finally:
            if self._sync is None and self.outbox.settling() and not self.outbox.in_flight():
                # nothing in flight will confirm the settling messages: ask the broker for a round trip
                self._seq += 1
                mid = self.link.sync()
                self._sync = (mid, self._seq) if mid else None

    def _send_window(self) -> None:
        room = self.window - self.outbox.in_flight()
        if room <= 0:
            return
        if not self.waiting_for_subscriber:
            self._publish(self.outbox.take(room))
            return
        # Waiting for a subscriber: custody messages stay queued in their place and one of them is sent as a
        # probe per back-off step; everything else (status, availability, stats, previews) keeps flowing, so
        # a camera going offline is still reported at once.
        custody = partial(needs_custody, self.link.topics.prefix)
        self._publish(self.outbox.take(room, skip=custody, resume=True))
        if time.monotonic() >= self._retry_at:
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self.link.cfg.reconnect_max_s)
            self._publish(self.outbox.take(1, skip=lambda topic: not custody(topic)))

    def _publish(self, messages: list[OutMessage]) -> None:
        for msg in messages:
            limit = self.link.max_packet
            if limit and packet_size(msg.topic, msg.payload) > limit:
                # the broker would drop the connection, and the reconnect would send it again, forever
                if self.outbox.dead_letter_row(msg.id, f"Packet too large (broker maximum {limit} bytes)"):
                    self.dead_lettered += 1
                continue
            try:
                info = self.link.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            except ValueError as err:  # malformed topic or payload: it can never be sent
                self.rejected += 1
                log.error("dropping outbox message %d to %r: %s", msg.id, msg.topic, err)
                self.outbox.delete(msg.id)
                continue
            if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                if msg.qos == 0:
                    self.outbox.delete_sent(msg.id)
                else:
                    self._seq += 1
                    self._mid_seq[info.mid] = self._seq
                    self.outbox.mark_sent(msg.id, info.mid)
                self.published += 1
            else:
                log.warning("MQTT client refused message %d (%s); will retry", msg.id, info.rc)
                return
