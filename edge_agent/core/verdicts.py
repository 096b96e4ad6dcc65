"""What the per-frame pipeline hands the runtime: typed, frozen, no MQTT or I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_agent.core.detections import Faces
from edge_agent.core.evidence import Shot


@dataclass(frozen=True, slots=True)
class Decision:
    """A tracked person's verdict, decided once from several agreeing frames."""

    track_id: int
    verdict: str  # canonical label
    confidence: float  # mean class probability over the agreeing votes
    votes: int
    box: tuple[int, int, int, int]  # face box in the deciding frame, pixels of the original frame
    time: float  # capture time (UNIX seconds) of the deciding frame


@dataclass(frozen=True, slots=True)
class FrameResult:
    """One analysed frame: every face (classified, with its track id) and the decisions it completed."""

    time: float
    faces: Faces
    track_ids: tuple[int, ...]
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
