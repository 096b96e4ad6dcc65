"""The one frame object, end to end: a captured :class:`Frame` goes into the pipeline and comes back as a
:class:`FrameResult` that carries the frame itself, so the runtime never re-joins pixels with results.

Typed, frozen, NumPy only: no I/O, no MQTT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import Faces
from edge_agent.core.evidence import Shot
from edge_agent.core.verdicts import Decision

#: An OpenCV BGR image, ``(height, width, 3)`` uint8.
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: BGR pixels, capture time (UNIX seconds, taken at grab) and a sequence number."""

    image: Image
    time: float
    seq: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """Width, height in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class FrameResult:
    """One analysed frame: the frame, every face in it (classified, with its track id in
    ``faces.track_id``) and the decisions it completed."""

    frame: Frame
    faces: Faces
    decisions: tuple[Decision, ...] = field(default_factory=tuple)
    detect_ms: float = 0.0
    classify_ms: float = 0.0
    improved: tuple[tuple[int, Shot], ...] = ()  # (track id, new best shot) of tracks whose best shot improved
    ended: tuple[int, ...] = ()  # tracks forgotten in this frame
    #: faces detected outside the camera's region of interest: neither classified nor counted, but blurred
    #: in every image that leaves the device (docs/privacy.md)
    outside_roi: tuple[tuple[float, float, float, float], ...] = ()
    #: False when motion-gated detection skipped the detector on this frame (edge_agent/motion.py): ``faces``
    #: is then empty because nobody was looked for, so no image of this frame may leave the device
    detected: bool = True
    #: False when the detector searched only the motion regions (edge_agent/regions.py): faces elsewhere were
    #: not looked for, so no preview of this frame is published (the runtime asks for a whole-frame search
    #: when a preview is due)
    searched_all: bool = True

    @property
    def time(self) -> float:
        """Capture time of the frame (UNIX seconds)."""
        return self.frame.time

    @property
    def track_ids(self) -> tuple[int, ...]:
        """The track id of each face, in face order."""
        return self.faces.track_ids

    def other_boxes(self, track_id: int) -> list[list[float]]:
        """Every face box in the frame except ``track_id``'s, and the faces outside the roi: what a snapshot
        of that track's face must blur."""
        others: list[list[float]] = self.faces.xyxy[self.faces.track_id != track_id].tolist()
        return others + [list(b) for b in self.outside_roi]
