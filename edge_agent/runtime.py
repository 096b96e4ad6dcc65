"""The agent runtime: camera workers -> FramePipeline -> events, snapshots, stats, status, previews ->
durable outbox -> MQTT.

Threads: one capture thread and one analysis thread per camera, the outbox sender, paho's network
thread, and the main thread (signals, stall checks, the systemd watchdog, config reload). Capture never
waits for analysis (newest frame wins); analysis never waits for the broker (the outbox is local).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edge_agent.bestshot import BestShots, Kept, keep
from edge_agent.clock_watch import ClockWatch
from edge_agent.config import CameraConfig, Config, DetectorConfig, agent_sections, load_config
from edge_agent.control import Switches
from edge_agent.core.detections import Faces
from edge_agent.core.evidence import Shot
from edge_agent.core.frames import Frame, FrameResult, Image
from edge_agent.core.labels import VIOLATIONS, Verdict
from edge_agent.core.topics import ENABLED, EVENT, PREVIEW, SET, STATE, STATS, STATUS, Topics
from edge_agent.core.tracking import Tracker
from edge_agent.core.verdicts import Decision
from edge_agent.detectors.base import Detector
from edge_agent.events import CameraStats, CameraStatus, ViolationEvent, dump
from edge_agent.memory import Trimmer
from edge_agent.mqtt_client import MqttLink, OutboxSender
from edge_agent.outbox import Outbox
from edge_agent.privacy import Privacy, ViolatorTracks
from edge_agent.snapshot import preview_jpeg
from edge_agent.sources import CameraState, CaptureWorker, make_worker
from edge_agent.sources.base import Backoff

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600.0
ANALYSIS_STOP_WAIT_S = 60.0  # at stop, how long to let a frame in analysis finish (systemd waits 90 s)


class Pipeline(Protocol):
    labels: tuple[Verdict, ...]
    tracker: Tracker  # its ``effective`` parameters name what a slow board adapted (``_warn_if_behind``)

    def process(self, frame: Frame) -> FrameResult: ...

    def drain_people(self) -> dict[Verdict, int]: ...


PipelineFactory = Callable[[Config, CameraConfig], Pipeline]


class SharedDetector:
    """One detector for every camera, one frame at a time. A CenterFace net planned for 640x384 holds
    ~65 MB, so one net per camera would put two cameras past 250 MB; OpenCV already spreads one forward
    pass over all cores, so taking turns costs little throughput (docs/performance.md)."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self._lock = threading.Lock()

    def detect(self, frame_bgr: Image, score_threshold: float | None = None) -> Faces:
        with self._lock:
            if score_threshold is None:
                return self.detector.detect(frame_bgr)
            return self.detector.detect(frame_bgr, score_threshold=score_threshold)

    @property
    def supports_regions(self) -> bool:
        return hasattr(self.detector, "detect_regions")

    def detect_regions(self, frame_bgr: Any, regions: Any, score_threshold: float | None = None) -> Any:
        with self._lock:
            return self.detector.detect_regions(frame_bgr, regions, score_threshold=score_threshold)


class SharedClassifier:
    """One classifier interpreter for every camera, one batch at a time: each TFLite interpreter holds its
    own arena and thread pool (~2 MB per camera), for a call of about a millisecond."""

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier
        self.labels = classifier.labels
        self.crop = classifier.crop
        self._lock = threading.Lock()

    def predict_proba(self, crops: Any) -> Any:
        with self._lock:
            return self.classifier.predict_proba(crops)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.classifier, name)


class SharedDetectors:
    """The runtime's detector cache: one :class:`SharedDetector` for the detector settings in use. A reload
    with other detector settings replaces it; a reload with the same ones keeps the loaded net."""

    def __init__(self) -> None:
        self._by_settings: dict[str, SharedDetector] = {}

    def get(self, config: DetectorConfig) -> SharedDetector:
        from edge_agent.detectors import create_detector

        key = config.model_dump_json()
        if key not in self._by_settings:
            self._by_settings.clear()
            self._by_settings[key] = SharedDetector(create_detector(config))
        return self._by_settings[key]


@dataclass(frozen=True, slots=True)
class Outputs:
    """Where a camera's results go: the durable outbox (and its sender) and the live link for previews."""

    config: Config
    topics: Topics
    outbox: Outbox
    sender: OutboxSender | None
    link: MqttLink | None
    switches: Switches | None = None
    clock: ClockWatch | None = None

    def put(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.outbox.put(topic, payload, qos=1, retain=retain)
        if self.sender is not None:
            self.sender.wake()


class CameraRunner:
    """Capture worker + analysis thread of one camera."""

    def __init__(self, camera: CameraConfig, pipeline: Pipeline, out: Outputs,
                 backoff: Backoff | None = None) -> None:
        self.camera = camera
        self.pipeline = pipeline
        self.out = out
        self.cfg = out.config
        self.worker: CaptureWorker = make_worker(camera, on_status=self._on_status, backoff=backoff)
        self.period = 1.0 / camera.detect_fps
        if camera.skip_unanalysed:
            self.worker.wanted = self._wanted
        self.privacy = Privacy(self.cfg.privacy_mode(camera))
        self._violators = ViolatorTracks()
        self.frames_total = 0
        self.events_total = 0
        self.errors = 0
        self.last_processed = 0.0  # monotonic time of the last analysed frame
        self.heartbeat = time.monotonic()
        self._next_due = 0.0
        self._next_preview = 0.0
        self._stats_started = time.monotonic()
        self._frames = 0
        self._infer_ms = 0.0
        self.infer_ms_total = 0.0  # for /metrics
        self.last_fps = 0.0
        self.last_infer_ms = 0.0
        self.dropped_total = 0
        self.suppressed_total = 0  # violations outside the camera's active hours
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._analysing = False
        self.best_shots = BestShots(self.cfg.snapshots.best_shot_wait_s if self.cfg.snapshots.enabled else 0.0)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.worker.start()
        self._thread = threading.Thread(target=self._run, name=f"analysis-{self.camera.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0, reason: str = "agent stopped") -> None:
        """Stop capture and analysis; the retained status says the camera is no longer watched."""
        self._stop.set()
        self.worker.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._analysing:
                # a slow board (or emulation) may spend longer than ``timeout`` on one frame; exiting while
                # native code still runs in that thread aborts the process ("terminate called ...")
                log.info("camera %s: waiting for the frame being analysed", self.camera.name)
                self._thread.join(ANALYSIS_STOP_WAIT_S)
        try:  # better snapshots of events already sent: the tracks end with the agent
            self._revise(time.time(), (), everything=True)
        except Exception:
            log.exception("camera %s: final snapshot revisions failed", self.camera.name)
        try:  # the partial interval: people decided since the last stats must still be counted
            self.emit_stats(time.monotonic())
        except Exception:
            log.exception("camera %s: final stats failed", self.camera.name)
        try:
            self._on_status(CameraState("offline", reason, self.worker.state.resolution))
        except Exception:
            log.exception("camera %s: final status failed", self.camera.name)

    # ------------------------------------------------------------ outputs
    def _on_status(self, state: CameraState) -> None:
        status = CameraStatus.from_state(state, site=self.cfg.site, agent=self.cfg.agent_id, camera=self.camera.name)
        self.out.put(self.out.topics.camera(self.camera.name, STATUS), dump(status), retain=True)

    def emit_stats(self, now: float) -> None:
        interval = max(now - self._stats_started, 1e-3)
        stats = CameraStats(
            site=self.cfg.site, agent=self.cfg.agent_id, time=datetime.now(UTC), camera=self.camera.name,
            interval_s=round(interval, 3), people=self.pipeline.drain_people(), frames=self._frames,
            fps=round(self._frames / interval, 3),
            inference_ms=round(self._infer_ms / self._frames, 3) if self._frames else 0.0,
            dropped_frames=self.worker.frames.take_dropped(),
            queue_pending=self.out.outbox.pending(), dead_letters=self.out.outbox.dead_letters(),
            no_subscriber_retries=self.out.outbox.counter("no_subscriber_retries"),
            waiting_for_subscriber=bool(self.out.sender and self.out.sender.waiting_for_subscriber),
            **self._clock_fields(),
        )
        self.last_fps, self.last_infer_ms = stats.fps, stats.inference_ms
        self.dropped_total += stats.dropped_frames
        self.out.put(self.out.topics.camera(self.camera.name, STATS), dump(stats))
        self._warn_if_behind(stats.fps, stats.frames)
        self._stats_started, self._frames, self._infer_ms = now, 0, 0.0

    def _clock_fields(self) -> dict[str, Any]:
        if self.out.clock is None:
            return {}
        c = self.out.clock.state()
        return {"clock_jumps": c.jumps, "clock_last_jump_s": c.last_jump_s}

    def _warn_if_behind(self, fps: float, frames: int) -> None:
        """Say so when this camera is analysed well below its detect_fps (a board too slow for the load)."""
        if not frames or fps >= 0.8 * self.camera.detect_fps or self.worker.state.state != "online":
            return
        p = self.pipeline.tracker.effective
        adapted = (f"; tracker adapted: {p.votes} votes of {p.window} frames, tracks kept {p.max_age_s:.1f} s"
                   if p is not None else "")
        log.warning("camera %s: cannot keep up: analysing %.2f frames/s of detect_fps %g (%.0f ms per frame)%s",
                    self.camera.name, fps, self.camera.detect_fps, self._infer_ms / frames, adapted)

    def _publish_violation(self, result: FrameResult, d: Decision) -> None:
        """Publish at once, with the track's best shot so far (the deciding frame if nothing better)."""
        event_id = uuid.uuid4().hex
        kept = self.best_shots.best(d.track_id)
        if kept is None:  # a pipeline that does not rate shots: the deciding frame
            kept = keep(result.frame.image, Shot(d.box, d.time, d.confidence, 0.0, 0.0, False),
                        result.other_boxes(d.track_id))
        snapshot_topic, region = self._put_snapshot(event_id, 0, kept, d.verdict, d.track_id)
        event = ViolationEvent.from_decision(
            d, site=self.cfg.site, agent=self.cfg.agent_id, camera=self.camera.name, event_id=event_id,
            frame_size=result.frame.size, box=kept.shot.box, snapshot=snapshot_topic, snapshot_region=region)
        self.out.put(self.out.topics.camera(self.camera.name, EVENT), dump(event))
        if snapshot_topic is not None:
            self.best_shots.published(d.track_id, event, kept.shot)
        self.events_total += 1
        log.info("camera %s: %s (track %d, confidence %.2f, event %s)", self.camera.name, d.verdict, d.track_id,
                 d.confidence, event_id)

    def _put_snapshot(self, event_id: str, revision: int, kept: Kept | None, verdict: str, track_id: int,
                      ) -> tuple[str | None, tuple[int, int, int, int] | None]:
        if not self.cfg.snapshots.enabled or not self.privacy.images or kept is None:
            return None, None
        try:
            jpeg = kept.jpeg(self.cfg.snapshots, verdict, blur_violator=self.privacy.blur_violator)
        except Exception:  # the event matters more than its picture
            log.exception("camera %s: snapshot for track %d failed", self.camera.name, track_id)
            return None, None
        topic = self.out.topics.snapshot(self.camera.name, event_id, revision)
        self.out.put(topic, jpeg)
        if self.cfg.snapshots.face_crops and not self.privacy.blur_violator:  # privacy modes: no unblurred face
            try:
                self.out.put(self.out.topics.face(self.camera.name, event_id, revision), kept.face_jpeg())
            except Exception:
                log.exception("camera %s: face crop for track %d failed", self.camera.name, track_id)
        return topic, kept.region

    def _revise(self, now: float, ended: tuple[int, ...], everything: bool = False) -> None:
        """Send revision 1 of events whose track has since shown a better face (track ended or wait over)."""
        for pend, kept in self.best_shots.due(now, ended, everything):
            e = pend.event
            topic, region = self._put_snapshot(e.event_id, 1, kept, e.verdict, e.track_id)
            if topic is None:
                continue
            revised = e.model_copy(update={"revision": 1, "box": kept.shot.box, "snapshot": topic,
                                           "snapshot_region": region})
            self.out.put(self.out.topics.camera(self.camera.name, EVENT), dump(revised))
            log.info("camera %s: better snapshot for event %s (track %d)", self.camera.name, e.event_id, e.track_id)

    def _preview(self, result: FrameResult) -> None:
        link = self.out.link
        if link is None or not link.connected.is_set():
            return
        labels = self.pipeline.labels
        names = [labels[c] if 0 <= c < len(labels) else None for c in result.faces.class_id.tolist()]
        blur = self.privacy.preview_blur(result.track_ids, self._violators)
        jpeg = preview_jpeg(result.frame.image, result.faces.xyxy.tolist(), names, self.cfg.preview, blur,
                            also_blur=result.outside_roi)
        link.publish(self.out.topics.camera(self.camera.name, PREVIEW), jpeg, qos=0)

    # ------------------------------------------------------------ analysis loop
    def _run(self) -> None:
        next_stats = time.monotonic() + self.cfg.agent.stats_interval_s
        while not self._stop.is_set():
            self.heartbeat = time.monotonic()
            if self.heartbeat >= next_stats:
                try:
                    self.emit_stats(self.heartbeat)
                except Exception:
                    self.errors += 1
                    log.exception("camera %s: stats failed", self.camera.name)
                next_stats += self.cfg.agent.stats_interval_s
            frame = self.worker.frames.get(timeout=min(0.5, max(next_stats - time.monotonic(), 0.01)))
            if frame is None or not self.detection_enabled or not self._due(frame):
                continue
            self._analysing = True
            try:
                self._analyse(frame)
            except Exception:  # loop boundary: one bad frame must not stop the camera
                self.errors += 1
                log.exception("camera %s: analysis of frame %d failed", self.camera.name, frame.seq)
            finally:
                self._analysing = False

    @property
    def detection_enabled(self) -> bool:
        """The runtime switch (``.../enabled/set``): off = frames are captured but not analysed."""
        sw = self.out.switches
        return sw is None or sw.get(self.camera.name, ENABLED)

    def _wanted(self, capture_time: float) -> bool:
        """Called by the capture thread after each grab: False for a frame ``_due`` would refuse however long
        it waited (its slot only moves later), so the worker need not convert it to BGR."""
        return self.detection_enabled and capture_time >= self._next_due - 0.1 * self.period

    def _due(self, frame: Frame) -> bool:
        """detect_fps: take a frame when its slot has come (10% tolerance for capture jitter)."""
        if frame.time < self._next_due - 0.1 * self.period:
            return False
        self._next_due = max(self._next_due + self.period, frame.time + 0.5 * self.period)
        return True

    def _analyse(self, frame: Frame) -> None:
        preview_due = self.cfg.preview.enabled and self.privacy.images and frame.time >= self._next_preview
        link = self.out.link
        if preview_due and link is not None and link.connected.is_set() and hasattr(self.pipeline, "search_all_next"):
            self.pipeline.search_all_next = True  # a published frame must have every face found (and blurred)
        result = self.pipeline.process(frame)
        self.last_processed = time.monotonic()
        self.frames_total += 1
        self._frames += 1
        self._infer_ms += result.detect_ms + result.classify_ms
        self.infer_ms_total += result.detect_ms + result.classify_ms
        self.best_shots.observe(result)
        for d in result.decisions:
            if d.verdict in VIOLATIONS:
                if not self.camera.schedule.is_active(datetime.fromtimestamp(d.time, UTC), self.cfg.dashboard.timezone):
                    self.suppressed_total += 1  # outside active hours: counted, not published
                    continue
                self._publish_violation(result, d)
        self._revise(frame.time, result.ended)
        self._violators.update((d.track_id for d in result.decisions if d.verdict in VIOLATIONS), result.track_ids)
        # a frame the motion gate kept from the detector, or searched only in its motion regions, may have
        # faces without boxes to blur: no preview of it
        if preview_due and result.detected and result.searched_all:
            self._next_preview = frame.time + 1.0 / self.cfg.preview.fps
            self._preview(result)


class Watchdog:
    """systemd notifications (no-op outside systemd). WATCHDOG=1 only while frames are being processed."""

    def __init__(self) -> None:
        import os

        self.interval_s: float | None = None
        usec = os.environ.get("WATCHDOG_USEC")
        if usec and usec.isdigit() and int(usec) > 0:
            self.interval_s = int(usec) / 1e6 / 2
        self._notifier: Any = None
        if os.environ.get("NOTIFY_SOCKET"):
            try:
                import sdnotify

                self._notifier = sdnotify.SystemdNotifier()
            except ImportError:
                log.warning("NOTIFY_SOCKET is set but the sdnotify package is missing")
        self._last_fed = time.monotonic()
        self.feeds = 0

    def notify(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def tick(self, runners: list[CameraRunner], now: float) -> None:
        """Feed the watchdog if a frame was analysed since the last feed, or no camera is delivering
        (an offline camera is retried by its worker; restarting the agent would not help)."""
        if self.interval_s is None or now - self._last_fed < self.interval_s:
            return
        processing = any(r.last_processed > self._last_fed for r in runners)
        delivering = any(r.worker.state.state == "online" and r.detection_enabled for r in runners)
        loops_alive = all(now - r.heartbeat < max(self.interval_s * 2, 5.0) for r in runners)
        if loops_alive and (processing or not delivering):
            self.notify("WATCHDOG=1")
            self._last_fed = now
            self.feeds += 1


class Runtime:
    """Runs the agent until :meth:`request_stop` (SIGTERM/SIGINT). SIGHUP reloads the config file."""

    def __init__(self, config: Config, config_path: Path | None = None,
                 pipeline_factory: PipelineFactory | None = None,
                 camera_backoff: Callable[[], Backoff] | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.detectors = SharedDetectors()
        self._classifier: SharedClassifier | None = None
        self.pipeline_factory: PipelineFactory = pipeline_factory or self.default_pipeline
        self.camera_backoff = camera_backoff
        self.outbox = Outbox(config.queue.path, config.queue.max_messages, config.queue.max_age_h * 3600,
                             max_bytes=int(config.queue.max_mb * 2**20))
        self.link: MqttLink | None = None
        self.sender: OutboxSender | None = None
        self.runners: list[CameraRunner] = []
        self.watchdog = Watchdog()
        self.clock = ClockWatch()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self.reloads = 0
        self.health: Any = None
        self.switches: Switches | None = None

    # ------------------------------------------------------------ control
    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def request_reload(self, *_: Any) -> None:
        self._reload.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.request_reload)

    # ------------------------------------------------------------ parts
    def default_pipeline(self, config: Config, camera: CameraConfig) -> Pipeline:
        """The real pipeline, on the detector the cameras share."""
        from edge_agent.classifier import Classifier
        from edge_agent.pipeline import FramePipeline

        if self._classifier is None:  # one interpreter for every camera of this (re)load
            self._classifier = SharedClassifier(Classifier(config.classifier.model_card, config.classifier.threads))
        return FramePipeline(config, camera, detector=self.detectors.get(config.detector),
                             classifier=self._classifier)  # type: ignore[arg-type]

    def _start_link(self) -> None:
        self.link = MqttLink(self.config.mqtt, self.config.site, self.config.agent_id, backlog=self.outbox.pending)
        self.sender = OutboxSender(self.outbox, self.link)
        self.sender.start()
        self.link.start()

    def _stop_link(self, flush_s: float) -> None:
        if self.sender is not None and self.link is not None and self.link.connected.is_set() and flush_s > 0:
            self.sender.flush(flush_s)
        if self.link is not None:
            self.link.stop()  # publishes "stopped"; PUBACKs still arriving meanwhile are queued for the sender
        if self.sender is not None:
            self.sender.stop()  # ...which records them before it ends
        self.outbox.forget_in_flight()

    def _make_pipelines(self, config: Config) -> dict[str, Pipeline]:
        """Load models first: a model or detector error fails the start (or the reload) before anything runs."""
        self._classifier = None  # each (re)load reads the model card again (a model replaced in place)
        return {cam.name: self.pipeline_factory(config, cam) for cam in config.cameras if cam.enabled}

    def _start_switches(self, topics: Topics, names: list[str]) -> Switches:
        def announce(camera: str, switch: str, value: str) -> None:
            self.outbox.put(topics.switch(camera, switch, STATE), value.encode(), qos=1, retain=True)
            if self.sender is not None:
                self.sender.wake()

        sw = Switches(self.config.queue.path.with_name("switches.json"), names, topics.prefix, topics.site, announce)
        sw.announce_all()
        if self.link is not None:
            self.link.subscribe(topics.switch_filter(SET), sw.on_message)
        return sw

    def _start_cameras(self, pipelines: dict[str, Pipeline]) -> None:
        topics = Topics(self.config.mqtt.topic_prefix, self.config.site)
        self.switches = self._start_switches(topics, [c.name for c in self.config.cameras if c.name in pipelines])
        out = Outputs(self.config, topics, self.outbox, self.sender, self.link, self.switches, self.clock)
        self.runners = []
        for cam in self.config.cameras:
            if cam.name not in pipelines:
                continue
            backoff = self.camera_backoff() if self.camera_backoff else None
            self.runners.append(CameraRunner(cam, pipelines[cam.name], out, backoff))
        for r in self.runners:
            r.start()
        log.info("agent %s/%s running %d camera(s)", self.config.site, self.config.agent_id, len(self.runners))

    def _stop_cameras(self, reason: str = "agent stopped") -> None:
        for r in self.runners:
            r.stop(reason=reason)

    def _reload_config(self) -> None:
        self._reload.clear()
        if self.config_path is None:
            log.warning("SIGHUP: no config file to reload")
            return
        try:
            new = load_config(self.config_path, own_sections=agent_sections)
            pipelines = self._make_pipelines(new)
        except Exception as err:  # keep running with the old config
            log.error("SIGHUP: config not reloaded, keeping the running one: %s", err)
            return
        log.info("SIGHUP: reloading %s", self.config_path)
        self._stop_cameras(reason="configuration reloaded")
        if new.mqtt != self.config.mqtt or new.site != self.config.site or new.agent_id != self.config.agent_id:
            self._stop_link(flush_s=1.0)
            self.config = new
            self._start_link()
        self.config = new
        self._start_cameras(pipelines)
        self.reloads += 1

    def health_report(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        cams = {r.camera.name: {"state": r.worker.state.state, "reason": r.worker.state.reason,
                                "frames": r.frames_total, "events": r.events_total, "errors": r.errors,
                                "dropped_frames": r.worker.frames.dropped,
                                "skipped_frames": r.worker.skipped, "detection": r.detection_enabled,
                                "analysis_alive": now - r.heartbeat < 10.0} for r in self.runners}
        q = self.outbox.stats()
        waiting = bool(self.sender and self.sender.waiting_for_subscriber)
        clock = self.clock.state()
        body = {"cameras": cams, "mqtt_connected": bool(self.link and self.link.connected.is_set()),
                "queue": {"pending": q.pending, "in_flight": q.in_flight, "bytes": q.bytes,
                          "dropped_full": q.dropped_full, "dropped_age": q.dropped_age,
                          "dropped_bytes": q.dropped_bytes, "dead_letters": q.dead_letters,
                          "dead_lettered": q.dead_lettered,
                          "dead_letter_reasons": self.outbox.dead_letter_reasons(),
                          "deliveries_confirmed": bool(self.link and self.link.confirmed),
                          "disk_full": q.disk_full, "memory_buffered": q.memory_buffered,
                          "dropped_disk_full": q.dropped_disk_full,
                          "no_subscriber_retries": self.outbox.counter("no_subscriber_retries"),
                          "waiting_for_subscriber": waiting,
                          "resent_unconfirmed": self.outbox.counter("resent_unconfirmed")},
                "clock": {"jumps": clock.jumps, "last_jump_s": clock.last_jump_s, "offset_s": clock.total_s},
                "alarms": [name for name, on in (("disk_full", q.disk_full), ("dead_letters", q.dead_letters > 0),
                                                 ("dropped_disk_full", q.dropped_disk_full > 0),
                                                 ("no_subscriber", waiting)) if on]}
        return all(c["analysis_alive"] for c in cams.values()), body

    def _start_health(self) -> None:
        from edge_agent.health import HealthServer
        from edge_agent.metrics import agent_metrics

        try:
            self.health = HealthServer(self.config.agent.health_port or 0, self.health_report,
                                       host=self.config.agent.health_host, metrics=lambda: agent_metrics(self)).start()
        except OSError as err:  # a busy port must not stop the cameras
            log.error("health endpoint not started on %s:%s: %s", self.config.agent.health_host,
                      self.config.agent.health_port, err.strerror)

    # ------------------------------------------------------------ main loop
    def run(self, install_signals: bool = True) -> int:
        pipelines = self._make_pipelines(self.config)
        if install_signals:
            self.install_signal_handlers()
        try:
            self._start_link()
            self._start_cameras(pipelines)
            if self.config.agent.health_port:
                self._start_health()
            self.watchdog.notify("READY=1")
            last_purge = time.monotonic()
            trimmer = Trimmer()  # freed frames and decoder buffers back to the system (edge_agent/memory.py)
            while not self._stop.wait(0.25):
                now = time.monotonic()
                if self._reload.is_set():
                    self.watchdog.notify("RELOADING=1")
                    self._reload_config()
                    self.watchdog.notify("READY=1")
                for r in self.runners:
                    r.worker.check_stalled(now)
                self.watchdog.tick(self.runners, now)
                self.clock.check()
                trimmer.tick(now)
                if self.outbox.memory.disk_full:
                    self.outbox.write_buffered()  # space may be back: write what waits in memory
                if now - last_purge > PURGE_EVERY_S:
                    self.outbox.purge_expired()
                    last_purge = now
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        log.info("stopping")
        self.watchdog.notify("STOPPING=1")
        if self.health is not None:
            self.health.stop()
        self._stop_cameras()
        self._stop_link(flush_s=5.0)
        self.outbox.close()
        log.info("stopped")
