"""Best-shot snapshots: keep each live track's best face, publish the event at once, revise it once.

The tracker says which tracks' best shot improved in a frame (``FrameResult.improved``); this keeps a copy
of the snapshot region of that frame (the face with its context, not the whole frame) for each of them.
When a violation is decided the event goes out at once with the best shot so far (latency kept). If a
clearly better face of the same person is seen afterwards, one revision of the event (same ``event_id``,
``revision`` 1, the better snapshot and its box) is sent when the track ends or ``best_shot_wait_s``
after the decision, whichever is first. At most two snapshots per event, whatever the track's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_agent.config import SnapshotConfig
from edge_agent.core.evidence import Box, Shot, context_region
from edge_agent.core.frames import FrameResult
from edge_agent.events import ViolationEvent
from edge_agent.snapshot import Image, encode_jpeg, violation_snapshot

FACE_MARGIN = 0.5  # face sizes around a face crop: context for the trainer's face finder


@dataclass(frozen=True, slots=True)
class Kept:
    """A best shot's pixels: the snapshot region of its frame and the other faces inside it."""

    shot: Shot
    region: Box  # frame pixels
    crop: Image
    others: tuple[Box, ...]  # other faces, crop pixels

    def jpeg(self, cfg: SnapshotConfig, label: str, blur_violator: bool = False) -> bytes:
        """The snapshot: every other face blurred (docs/privacy.md), the violator too with ``blur_violator``."""
        x0, y0 = self.region[:2]
        x1, y1, x2, y2 = self.shot.box
        return violation_snapshot(self.crop, (x1 - x0, y1 - y0, x2 - x0, y2 - y0), list(self.others), cfg, label,
                                  blur_violator=blur_violator)

    def face_jpeg(self, quality: int = 95) -> bytes:
        """The face at full camera resolution with a margin, nothing drawn on it (training data)."""
        x0, y0 = self.region[:2]
        x1, y1, x2, y2 = self.shot.box
        side = max(x2 - x1, y2 - y1, 1)
        m = int(FACE_MARGIN * side)
        h, w = self.crop.shape[:2]
        face = self.crop[max(0, y1 - y0 - m):min(h, y2 - y0 + m), max(0, x1 - x0 - m):min(w, x2 - x0 + m)]
        return encode_jpeg(np.ascontiguousarray(face if face.size else self.crop), quality)


def keep(frame: Image, shot: Shot, other_boxes: Sequence[Sequence[float]]) -> Kept:
    h, w = frame.shape[:2]
    region = context_region(shot.box, w, h)
    rx1, ry1, rx2, ry2 = region
    others = tuple((int(b[0]) - rx1, int(b[1]) - ry1, int(b[2]) - rx1, int(b[3]) - ry1) for b in other_boxes
                   if b[2] > rx1 and b[0] < rx2 and b[3] > ry1 and b[1] < ry2)
    return Kept(shot, region, np.ascontiguousarray(frame[ry1:ry2, rx1:rx2]).copy(), others)


@dataclass(slots=True)
class Pending:
    event: ViolationEvent  # as published (revision 0)
    shot: Shot  # what its snapshot showed
    due: float  # capture time by which the revision is sent


@dataclass(slots=True)
class BestShots:
    """One camera's kept best shots and the events waiting for a better one."""

    wait_s: float
    kept: dict[int, Kept] = field(default_factory=dict)
    pending: dict[int, Pending] = field(default_factory=dict)

    def observe(self, result: FrameResult) -> None:
        """Copy the region of every best shot that improved in this frame (call before the decisions)."""
        for tid, shot in result.improved:
            self.kept[tid] = keep(result.frame.image, shot, result.other_boxes(tid))

    def best(self, track_id: int) -> Kept | None:
        return self.kept.get(track_id)

    def published(self, track_id: int, event: ViolationEvent, shot: Shot) -> None:
        """An event went out showing ``shot``; a better one may follow (unless revisions are off)."""
        if self.wait_s > 0:
            self.pending[track_id] = Pending(event, shot, event.time.timestamp() + self.wait_s)

    def due(self, now: float, ended: Sequence[int] = (), everything: bool = False) -> list[tuple[Pending, Kept]]:
        """Revisions to send now (tracks ended, waits expired, or ``everything`` at a stop) whose kept shot
        is better than the published one; the tracks ended are forgotten."""
        out = []
        gone = set(ended)
        for tid in [t for t, p in self.pending.items() if everything or t in gone or now >= p.due]:
            pend = self.pending.pop(tid)
            kept = self.kept.get(tid)
            if kept is not None and kept.shot != pend.shot:
                out.append((pend, kept))
        for tid in gone:
            self.kept.pop(tid, None)
        return out
