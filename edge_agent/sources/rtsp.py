"""RTSP camera through OpenCV's FFmpeg backend, with open and read timeouts (see FIELD-NOTES).

``isOpened()`` stays true on a dead stream, so liveness is judged by reads only: a read that fails or
times out (``read_timeout_s``) raises SourceError and the worker reconnects.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import cv2

from edge_agent.config import CameraConfig
from edge_agent.sources.configs import RTSPSource
from edge_agent.sources.opencv import GrabRetrieve, describe, open_capture


class RtspCamera(GrabRetrieve):
    def __init__(self, source: RTSPSource, camera: CameraConfig) -> None:
        self.url = source.url
        self.transport = source.transport
        self.camera = camera

    @property
    def what(self) -> str:
        return f"RTSP stream {describe(self.url)}"

    def open(self) -> None:
        self._cap = open_capture(
            self.url, cv2.CAP_FFMPEG, self.camera.open_timeout_s, self.camera.read_timeout_s,
            # FFmpeg probes 5 s of stream by default (2.8 s to open a local 10 fps stream); 1 s is plenty
            # to read the codec parameters and keeps a reconnect within 5 s of the stream's return
            ffmpeg_options=f"rtsp_transport;{self.transport}|analyzeduration;1000000|probesize;500000",
        )


def rtsp_probe(url: str, timeout_s: float = 0.5) -> bool:
    """True when an RTSP server answers an OPTIONS request at ``url``'s host and port (any RTSP status).

    Cheap (one TCP round trip, no media): the capture worker calls it about once a second while it waits
    out its reconnect back-off, and reconnects at once when the server comes back. A frozen server keeps its
    port open but does not answer, so this tells a returned stream from a port that merely accepts.
    """
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 554
    if not host:
        return False
    request = f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: maskwatch-probe\r\n\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(request)
            return sock.recv(16).startswith(b"RTSP/")
    except OSError:
        return False
