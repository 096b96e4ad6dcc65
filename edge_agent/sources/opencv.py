"""Shared OpenCV VideoCapture plumbing: open with timeouts, grab + timestamp + retrieve (separately, so that
frames nobody analyses are never converted to BGR)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import cv2

from edge_agent.sources.base import Frame, FrameSource, SourceError

_ENV_LOCK = threading.Lock()
_FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


def open_capture(
    target: int | str,
    backend: int,
    open_timeout_s: float,
    read_timeout_s: float,
    ffmpeg_options: str | None = None,
) -> Any:
    """``cv2.VideoCapture`` with open/read timeouts; raises SourceError when it does not open.

    ``ffmpeg_options`` (e.g. ``rtsp_transport;udp``) go through the process-wide environment variable
    OpenCV reads at open time, so opening is serialised.
    """
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000),
    ]
    if backend == cv2.CAP_FFMPEG and hasattr(cv2, "CAP_PROP_N_THREADS"):
        # One decoding thread per camera: FFmpeg's default (one per CPU, frame threading) keeps a set of frame
        # buffers per thread, several MB of RSS per camera, for no gain at the frame rates cameras send.
        params += [cv2.CAP_PROP_N_THREADS, 1]
    with _ENV_LOCK:
        old = os.environ.get(_FFMPEG_OPTIONS)
        if ffmpeg_options is not None:
            os.environ[_FFMPEG_OPTIONS] = ffmpeg_options
        try:
            cap = cv2.VideoCapture(target, backend, params)
        except cv2.error as err:
            raise SourceError(f"cannot open {describe(target)}: {err}") from None
        finally:
            if ffmpeg_options is not None:
                if old is None:
                    os.environ.pop(_FFMPEG_OPTIONS, None)
                else:
                    os.environ[_FFMPEG_OPTIONS] = old
    if not cap.isOpened() and backend != cv2.CAP_FFMPEG:
        # Backends that do not understand the timeout properties refuse to open at all ("unsupported
        # parameters in .open(). Bailout"): try again without them; the worker's stall check still applies.
        cap.release()
        try:
            cap = cv2.VideoCapture(target, backend)
        except cv2.error as err:
            raise SourceError(f"cannot open {describe(target)}: {err}") from None
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open {describe(target)}")
    return cap


def read_frame(cap: Any, seq: int, what: str) -> Frame:
    """Grab (timestamped at grab), then decode. A failed or empty read raises SourceError."""
    return retrieve_frame(cap, seq, grab_frame(cap, what), what)


def grab_frame(cap: Any, what: str) -> float:
    """Take the next frame from the stream without converting it to BGR; its capture time (UNIX seconds).

    FFmpeg decodes in ``grab`` (an H.264 stream cannot skip decoding a frame: later frames refer to it);
    ``retrieve`` converts the decoded frame to a new BGR array (2.7 MB at 720p). A frame nobody will analyse
    is grabbed only, which keeps the stream live and saves the conversion and the allocation.
    """
    t0 = time.monotonic()
    ok = cap.grab()
    stamp = time.time()
    if not ok:
        raise SourceError(f"no frame from {what} (read failed after {time.monotonic() - t0:.1f} s)")
    return stamp


def retrieve_frame(cap: Any, seq: int, stamp: float, what: str) -> Frame:
    """The last grabbed frame in BGR."""
    ok, image = cap.retrieve()
    if not ok or image is None or image.size == 0:
        raise SourceError(f"{what} returned an empty frame")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return Frame(image=image, time=stamp, seq=seq)


class GrabRetrieve(FrameSource):
    """``grab`` / ``retrieve`` / ``close`` for sources built on one ``cv2.VideoCapture`` (``_cap``, ``_seq``,
    ``what``): the capture worker grabs every frame and retrieves only those analysis will take
    (``camera.skip_unanalysed``). A subclass opens ``_cap`` in ``open()`` and names itself in ``what``."""

    _cap: Any = None
    _seq: int = 0
    _stamp: float = 0.0

    def grab(self) -> float:
        if self._cap is None:
            raise SourceError(f"{self.what} is not open")
        self._stamp = grab_frame(self._cap, self.what)
        self._seq += 1
        return self._stamp

    def retrieve(self) -> Frame:
        if self._cap is None:
            raise SourceError(f"{self.what} is not open")
        return retrieve_frame(self._cap, self._seq, self._stamp, self.what)

    def read(self) -> Frame:
        self.grab()
        return self.retrieve()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def describe(target: int | str) -> str:
    """A log-safe name: credentials in an RTSP URL are hidden."""
    if isinstance(target, str) and "://" in target and "@" in target:
        scheme, rest = target.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return str(target)

