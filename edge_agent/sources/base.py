"""What every camera source hands the capture worker: typed frames, one error type, a back-off."""

from __future__ import annotations

from typing import Protocol

from edge_agent.core.frames import Frame, Image

__all__ = ["Backoff", "EndOfStream", "Frame", "FrameSource", "Image", "SourceError"]


class SourceError(Exception):
    """The source cannot be opened or read. The capture worker reports the camera offline and retries."""


class EndOfStream(SourceError):
    """A non-looping file reached its end: the worker stops instead of retrying."""


class FrameSource(Protocol):
    """A camera: ``open`` then ``read`` until a ``SourceError``; ``close`` is safe to call at any time.

    Everything the capture worker uses is stated here; a source that subclasses this protocol inherits the
    defaults of ``what`` and ``paced_by_consumer``."""

    @property
    def what(self) -> str:
        """How errors and logs name the source (an RTSP URL without its password, a device, a file)."""
        return "source"

    @property
    def paced_by_consumer(self) -> bool:
        """True when the source is not live (a file read as fast as possible): the worker then waits for
        analysis to take each frame instead of replacing it."""
        return False

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...


class Backoff:
    """Doubling delay between reconnect attempts: ``initial``, 2x, 4x ... capped at ``maximum``."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0) -> None:
        if initial <= 0:
            raise ValueError(f"initial back-off must be > 0 s, got {initial}")
        if maximum < initial:
            raise ValueError(f"maximum back-off ({maximum} s) must be >= initial ({initial} s)")
        if factor < 1.0:
            raise ValueError(f"back-off factor must be >= 1, got {factor}")
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next(self) -> float:
        """The delay to wait now; the following call returns the doubled delay (up to the maximum)."""
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
