"""One capture thread per camera: read as fast as the camera delivers, never wait for analysis.

The newest frame wins: a frame not yet taken by analysis when the next arrives is replaced and counted as
dropped. Failures mark the camera offline (with the reason) and the worker reconnects after a doubling
back-off (1 s -> 60 s, ``camera.reconnect_max_s``); the first good frame marks it online again. While it
waits, an optional cheap ``probe`` (an RTSP OPTIONS round trip) runs about once a second: when the server
was unreachable and answers again, the worker reconnects at once instead of sleeping out the back-off, so a
camera is back within seconds of its stream's return however long it was away, while a camera that answers
but cannot stream (wrong path or password) is retried at the back-off's pace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.core import topics
from edge_agent.sources.base import Backoff, EndOfStream, Frame, FrameSource, SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraState:
    """online / offline with the reason; resolution of the last frame (width, height)."""

    state: topics.CameraState
    reason: str | None = None
    resolution: tuple[int, int] | None = None


class LatestFrame:
    """A bounded (one slot) queue where the newest frame wins; replaced frames are counted."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.dropped = 0
        self.captured = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.captured += 1
            self._cond.notify()

    def get(self, timeout: float) -> Frame | None:
        """The newest frame, or None after ``timeout`` seconds without one."""
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()  # a producer may be waiting for the slot (wait_taken)
            return frame

    def wait_taken(self, timeout: float) -> bool:
        """Wait until the frame in the slot was taken; True when the slot is empty."""
        with self._cond:
            if self._frame is not None:
                self._cond.wait(timeout)
            return self._frame is None

    def take_dropped(self) -> int:
        """Frames dropped since the last call."""
        with self._cond:
            n, self.dropped = self.dropped, 0
            return n


StatusCallback = Callable[[CameraState], None]
Probe = Callable[[], bool]
Wanted = Callable[[float], bool]

RECONNECT_MAX_S = 60.0
PROBE_INTERVAL_S = 1.0


class CaptureWorker:
    """Runs ``source_factory()`` sources in a thread and feeds ``frames``; reports state changes."""

    def __init__(
        self,
        name: str,
        source_factory: Callable[[], FrameSource],
        on_status: StatusCallback | None = None,
        read_timeout_s: float = 3.0,
        backoff: Backoff | None = None,
        probe: Probe | None = None,
    ) -> None:
        self.name = name
        self.source_factory = source_factory
        self.on_status = on_status
        self.read_timeout_s = read_timeout_s
        self.backoff = backoff or Backoff(1.0, RECONNECT_MAX_S)
        self.probe = probe
        # capture time -> will analysis take this frame? Set by the runner; with a source that can grab
        # without retrieving (OpenCV), a frame it will not take is grabbed only (never converted to BGR)
        self.wanted: Wanted | None = None
        self.skipped = 0  # frames grabbed but not retrieved
        self.frames = LatestFrame()
        self.state = CameraState("offline", "starting")
        self.last_frame_at = 0.0  # monotonic
        self.reconnects = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ status
    def _set_state(self, state: CameraState) -> None:
        with self._lock:
            if state == self.state:
                return
            self.state = state
        if state.state == "offline":
            log.warning("camera %s offline: %s", self.name, state.reason)
        else:
            log.info("camera %s online (%sx%s)", self.name, *(state.resolution or ("?", "?")))
        if self.on_status is not None:
            try:
                self.on_status(state)
            except Exception:  # a broken consumer must not stop capture
                log.exception("camera %s: status callback failed", self.name)

    def check_stalled(self, now: float | None = None) -> bool:
        """Mark the camera offline when an 'online' source has delivered nothing for too long.

        Covers sources whose read blocks despite the read timeout (FFmpeg gives up on a frozen RTSP stream
        only after about three times its read timeout). Called from the runtime's loop.
        """
        now = time.monotonic() if now is None else now
        limit = self.read_timeout_s
        if self.state.state == "online" and now - self.last_frame_at > limit:
            self._set_state(CameraState("offline", f"no frame for {now - self.last_frame_at:.0f} s",
                                        self.state.resolution))
            return True
        return False

    # ------------------------------------------------------------ the loop
    def _run(self) -> None:
        while not self._stop.is_set():
            source: FrameSource | None = None
            try:
                source = self.source_factory()
                source.open()
                self._read_loop(source)
            except EndOfStream as err:
                self._set_state(CameraState("offline", str(err), self.state.resolution))
                return
            except SourceError as err:
                self.errors += 1
                self._set_state(CameraState("offline", str(err), self.state.resolution))
            except Exception as err:  # loop boundary: a buggy source must not kill the worker
                self.errors += 1
                log.exception("camera %s: unexpected capture error", self.name)
                self._set_state(CameraState("offline", f"capture error: {err!r}"[:500], self.state.resolution))
            finally:
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        log.exception("camera %s: close failed", self.name)
            if self._stop.is_set():
                break
            delay = self.backoff.next()
            log.info("camera %s: reconnecting in %.0f s", self.name, delay)
            self.reconnects += 1
            self._wait_to_reconnect(delay)

    def _wait_to_reconnect(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if the probe sees the server come back."""
        deadline = time.monotonic() + delay
        was_down = False
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.probe is None:
                self._stop.wait(left)
                return
            try:
                up = self.probe()
            except Exception:  # a probe is advisory: never let it stop the worker
                log.exception("camera %s: probe failed", self.name)
                up = False
            if up and was_down:
                log.info("camera %s: server answers again, reconnecting now", self.name)
                return
            was_down = was_down or not up
            self._stop.wait(min(PROBE_INTERVAL_S, max(deadline - time.monotonic(), 0)))

    def _read_loop(self, source: FrameSource) -> None:
        first = True
        split = hasattr(source, "grab") and not getattr(source, "paced_by_consumer", False)
        while not self._stop.is_set():
            t0 = time.monotonic()
            wanted = self.wanted
            if split and wanted is not None and not first:
                stamp = source.grab()  # type: ignore[attr-defined]
                self.last_frame_at = time.monotonic()
                if self.last_frame_at - t0 <= self.read_timeout_s and not wanted(stamp):
                    self.skipped += 1
                    continue
                frame = source.retrieve()  # type: ignore[attr-defined]
            else:
                frame = source.read()
            self.last_frame_at = time.monotonic()
            took = self.last_frame_at - t0
            if took > self.read_timeout_s and not first:
                # FFmpeg hands out buffered frames from a frozen RTSP stream, one per timed-out read, for
                # about three read timeouts: a read that slow means the stream is gone
                raise SourceError(f"{source.what}: a read took {took:.1f} s "
                                  f"(read_timeout_s {self.read_timeout_s:g})")
            first = False
            if self.state.state != "online" or self.state.resolution != frame.size:
                self.backoff.reset()
                self._set_state(CameraState("online", None, frame.size))
            self.frames.put(frame)
            if source.paced_by_consumer:
                # a file read faster than real time: wait for analysis instead of decoding frames that
                # would only be dropped (no busy loop, no drops)
                while not self._stop.is_set() and not self.frames.wait_taken(0.5):
                    self.last_frame_at = time.monotonic()
                self.last_frame_at = time.monotonic()
