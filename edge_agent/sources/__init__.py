"""Camera sources, chosen by the config's ``type``: ``{type: (config model, factory)}``, keyed by each
config model's own ``type`` (the models are in edge_agent/sources/configs.py; the schema's ``source``
union is built from this registry). Heavy imports happen in the factories.

Every source implements :class:`FrameSource` (open / read -> Frame / close) and raises SourceError
when it cannot deliver; a :class:`CaptureWorker` runs one per camera.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge_agent.config_base import registry
from edge_agent.sources.base import Backoff, EndOfStream, Frame, FrameSource, SourceError
from edge_agent.sources.configs import DemoSource, FileSource, RTSPSource, USBSource
from edge_agent.sources.worker import CameraState, CaptureWorker, LatestFrame

if TYPE_CHECKING:
    from edge_agent.config import CameraConfig


def _usb(source: Any, camera: CameraConfig) -> FrameSource:
    from edge_agent.sources.usb import UsbCamera

    return UsbCamera(source, camera)


def _rtsp(source: Any, camera: CameraConfig) -> FrameSource:
    from edge_agent.sources.rtsp import RtspCamera

    return RtspCamera(source, camera)


def _file(source: Any, camera: CameraConfig) -> FrameSource:
    from edge_agent.sources.file import VideoFile

    return VideoFile(source, camera)


def _demo(source: Any, camera: CameraConfig) -> FrameSource:
    from edge_agent.sources.demo import DemoCamera

    return DemoCamera(source, camera)


SourceFactory = Callable[[Any, "CameraConfig"], FrameSource]

SOURCES: dict[str, tuple[type, SourceFactory]] = registry(
    (USBSource, _usb),
    (RTSPSource, _rtsp),
    (FileSource, _file),
    (DemoSource, _demo),
)


def make_source(camera: CameraConfig) -> FrameSource:
    """A new, unopened source for ``camera`` (the worker calls this on every reconnect)."""
    try:
        model, factory = SOURCES[camera.source.type]
    except KeyError:
        raise SourceError(f"unknown camera source type {camera.source.type!r}; allowed: {', '.join(SOURCES)}") from None
    if not isinstance(camera.source, model):
        raise SourceError(f"camera {camera.name}: source config is not a {model.__name__}")
    return factory(camera.source, camera)


def make_worker(camera: CameraConfig, on_status: Callable[[CameraState], None] | None = None,
                backoff: Backoff | None = None) -> CaptureWorker:
    """A capture worker for ``camera``; a demo source is kept across reconnects (its scene is costly)."""
    if isinstance(camera.source, DemoSource):
        shared = make_source(camera)
        factory: Callable[[], FrameSource] = lambda: shared  # noqa: E731
    else:
        factory = lambda: make_source(camera)  # noqa: E731
    probe = None
    if isinstance(camera.source, RTSPSource) and camera.source.url.startswith("rtsp://"):
        from edge_agent.sources.rtsp import rtsp_probe

        url = camera.source.url
        probe = lambda: rtsp_probe(url)  # noqa: E731
    return CaptureWorker(camera.name, factory, on_status=on_status, read_timeout_s=camera.read_timeout_s,
                         backoff=backoff or Backoff(1.0, camera.reconnect_max_s), probe=probe)


__all__ = [
    "SOURCES", "Backoff", "CameraState", "CaptureWorker", "EndOfStream", "Frame", "FrameSource",
    "LatestFrame", "SourceError", "make_source", "make_worker",
]
