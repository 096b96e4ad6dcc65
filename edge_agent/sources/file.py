"""Video file, optionally looping, optionally paced at its own frame rate like a live camera."""

from __future__ import annotations

import time
from typing import Any

import cv2

from edge_agent.config import CameraConfig
from edge_agent.sources.base import EndOfStream, Frame, FrameSource, SourceError
from edge_agent.sources.configs import FileSource
from edge_agent.sources.opencv import open_capture

DEFAULT_FPS = 25.0


class VideoFile(FrameSource):
    def __init__(self, source: FileSource, camera: CameraConfig) -> None:
        self.path = source.path
        self.loop = source.loop
        self.realtime = source.realtime
        self.camera = camera
        self.fps = DEFAULT_FPS
        self._cap: Any = None
        self._seq = 0
        self._next_due = 0.0

    @property
    def what(self) -> str:
        return f"video file {self.path}"

    @property
    def paced_by_consumer(self) -> bool:
        """Not real time: the capture worker hands over one frame at a time, as fast as analysis takes them."""
        return not self.realtime

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        self._cap = open_capture(str(self.path), cv2.CAP_ANY, self.camera.open_timeout_s, self.camera.read_timeout_s)
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 240 else DEFAULT_FPS
        self._next_due = time.monotonic()

    def _pace(self) -> None:
        if not self.realtime:
            return
        delay = self._next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0)

    def read(self) -> Frame:
        if self._cap is None:
            raise SourceError(f"video file {self.path} is not open")
        self._pace()
        ok, image = self._cap.read()
        if not ok and self.loop and self._seq > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            if self._seq == 0:
                raise SourceError(f"video file {self.path} has no readable frames")
            raise EndOfStream(f"end of video file {self.path}")
        self._seq += 1
        return Frame(image=image, time=time.time(), seq=self._seq)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
