"""A real RTSP server (GStreamer, from Debian packages) serving a looped clip that the test renders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2

from edge_agent.sources.demo import DemoScene

from .net import free_port, port_open, wait_for

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("rtsp_server_main.py")


def available() -> bool:
    if not Path(SYSTEM_PYTHON).is_file():
        return False
    probe = ("import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in ('x264enc','multifilesrc','jpegdec','rtph264pay'))")
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0


def render_frames(folder: Path, seconds: float, fps: int, width: int = 640, height: int = 360,
                  empty: bool = False) -> Path:
    """The demo scene as numbered JPEG frames (the server loops them); ``empty``: the corridor with nobody."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = DemoScene(width, height)
    for i in range(int(seconds * fps)):
        frame = scene.render(-1e6 if empty else i / fps)
        cv2.imwrite(str(folder / f"f{i:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return folder


class RtspServer:
    def __init__(self, frames: Path, fps: int = 10, port: int | None = None, path: str = "/cam") -> None:
        self.frames, self.fps, self.path = frames, fps, path
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self, timeout: float = 20.0) -> RtspServer:
        wait_for(lambda: not port_open(self.port), 15, what=f"port {self.port} free")
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port), "--frames", str(self.frames),
             "--fps", str(self.fps), "--path", self.path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.kill()
            raise RuntimeError(f"RTSP server did not start: {line!r} {err[-2000:]}")
        wait_for(lambda: port_open(self.port), timeout, what="RTSP port open")
        return self

    def kill(self) -> None:
        """SIGKILL: the stream dies mid-frame, like a camera losing power."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
