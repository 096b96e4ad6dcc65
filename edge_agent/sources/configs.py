"""The camera sources' config models (``cameras[].source``), beside the sources; registered in
``edge_agent.sources.SOURCES``, from which the schema's ``source`` union is built."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from edge_agent.config_base import Section


class USBSource(Section):
    type: Literal["usb"]
    device: int | str = Field(0, description="Device index (0) or path (/dev/video0)")


class RTSPSource(Section):
    type: Literal["rtsp"]
    url: str = Field(description="rtsp://user:pass@host:554/path; put credentials in ${ENV} references")
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("rtsp://", "rtsps://")):
            raise ValueError("must start with rtsp:// or rtsps://")
        return v


class FileSource(Section):
    type: Literal["file"]
    path: Path = Field(description="Video file to read")
    loop: bool = Field(False, description="Start again at the end")
    realtime: bool = Field(True, description="Pace reading at the file's frame rate, like a live camera")


class DemoSource(Section):
    type: Literal["demo"]
    fps: float = Field(15.0, gt=0, le=60, description="Frames per second of the generated scene")
    width: int = Field(1280, ge=160, le=3840)
    height: int = Field(720, ge=120, le=2160)
