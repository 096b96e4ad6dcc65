"""USB (V4L2) camera by index (0) or device path (/dev/video0)."""

from __future__ import annotations

import sys

import cv2

from edge_agent.config import CameraConfig
from edge_agent.sources.configs import USBSource
from edge_agent.sources.opencv import GrabRetrieve, open_capture


class UsbCamera(GrabRetrieve):
    def __init__(self, source: USBSource, camera: CameraConfig) -> None:
        self.device: int | str = source.device
        if isinstance(self.device, str) and self.device.isdigit():
            self.device = int(self.device)
        self.camera = camera

    @property
    def what(self) -> str:
        return f"USB camera {self.device}"

    def open(self) -> None:
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap = open_capture(self.device, backend, self.camera.open_timeout_s, self.camera.read_timeout_s)
