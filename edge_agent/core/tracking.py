"""Tracking and verdict debouncing: faces -> tracks across frames -> one decided verdict per person.

Each track predicts where its face is now from its last two positions (constant velocity). Association
is greedy, first by IoU with that prediction (highest pair first, at least ``iou_threshold``), then, for
faces and tracks still unmatched, by centre distance (nearest first, at most ``max_distance`` face sizes,
face sizes within a factor of 2): at low analysis rates a walking person's face may not overlap its last
box at all. A face no track claims starts a new track; a track not matched for more than ``max_age_s`` is
forgotten.

Each track keeps its last ``window`` classified frames. A frame votes for its class only when the class
probability is at least ``min_confidence``. As soon as one class has ``votes`` votes inside the window the
track's verdict is decided, once: the track then produces no further decisions, so one person gives one
event, not one per frame. The decision's confidence is the mean probability of the agreeing votes.
Only well-seen faces vote (``seen``, from ``core.evidence.well_seen``): a face clipped by the frame or the
roi edge, or too small, is tracked but its frame is not a vote.

Each track also keeps its best shot (``core.evidence.is_better``); ``TrackUpdate`` names the tracks whose
best shot improved in this frame and the tracks forgotten in it, so the runtime can send a better
snapshot for an event already published.

``PeopleCounter`` counts decisions per verdict; the runtime drains it once per stats interval, which gives
the unique people decided per verdict in that interval (a track decides at most once).
Pure NumPy; no I/O.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge_agent.core.detections import Faces, iou_matrix
from edge_agent.core.evidence import Shot, frontal_score, is_better
from edge_agent.core.labels import Verdict
from edge_agent.core.rate import AnalysisRate, adapt_to_rate
from edge_agent.core.verdicts import Decision


@dataclass(frozen=True, slots=True)
class TrackerParams:
    iou_threshold: float = 0.3
    max_age_s: float = 2.0
    votes: int = 3
    window: int = 5
    min_confidence: float = 0.6
    max_distance: float = 2.0
    unseen_max_age_s: float = 0.5  # a track whose last face was not well seen (leaving the frame) goes sooner

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if self.max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {self.max_age_s}")
        if not 1 <= self.votes <= self.window:
            raise ValueError(f"votes must be in 1..window ({self.window}), got {self.votes}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.unseen_max_age_s <= 0:
            raise ValueError(f"unseen_max_age_s must be > 0, got {self.unseen_max_age_s}")
        if not 0.0 <= self.max_distance <= 10.0:
            raise ValueError(f"max_distance must be in [0, 10] face sizes, got {self.max_distance}")


@dataclass(slots=True)
class Track:
    track_id: int
    box: npt.NDArray[np.float32]
    last_seen: float
    history: deque[tuple[int, float]]  # (class_id, class probability) of recent frames
    verdict: Verdict | None = None
    best: Shot | None = None
    last_seen_well: bool = True  # whether its last face was well seen (see ``Tracker.update``)
    velocity: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(2, np.float32))  # px/s

    def predicted(self, time: float) -> npt.NDArray[np.float32]:
        """The box moved on by the track's velocity to ``time``."""
        dt = max(time - self.last_seen, 0.0)
        shift = np.tile(self.velocity * dt, 2).astype(np.float32)
        out: npt.NDArray[np.float32] = self.box + shift
        return out

    def move_to(self, box: npt.NDArray[np.float32], time: float) -> None:
        dt = time - self.last_seen
        if dt > 0:
            step = (_centres(box[None])[0] - _centres(self.box[None])[0]) / dt
            seen_before = bool(self.velocity.any())
            self.velocity = (0.5 * self.velocity + 0.5 * step if seen_before else step).astype(np.float32)
        self.box = box.copy()
        self.last_seen = time


def _gone(track: Track, time: float, frame_size: tuple[int, int] | None) -> bool:
    """Unmatched since its last sighting and predicted (by its velocity) to be centred outside the frame."""
    if frame_size is None or time <= track.last_seen:
        return False
    cx, cy = _centres(track.predicted(time)[None])[0]
    return not (0.0 <= cx <= frame_size[0] and 0.0 <= cy <= frame_size[1])


def _centres(xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = ((xyxy[:, :2] + xyxy[:, 2:]) / 2.0).astype(np.float32)
    return out


def _sizes(xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]).astype(np.float32)
    return np.maximum(out, 1.0)


def distance_match(
    prev: npt.NDArray[np.float32], cur: npt.NDArray[np.float32], max_distance: float,
    rows: Sequence[int], cols: Sequence[int],
) -> list[tuple[int, int]]:
    """Pairs among ``rows`` x ``cols`` by nearest centre, within ``max_distance`` face sizes, sizes within 2x."""
    if not len(rows) or not len(cols) or max_distance <= 0:
        return []
    p, c = prev[list(rows)], cur[list(cols)]
    sp, sc = _sizes(p), _sizes(c)
    dist = np.linalg.norm(_centres(p)[:, None, :] - _centres(c)[None, :, :], axis=2)
    scale = np.maximum(sp[:, None], sc[None, :])
    ratio = np.maximum(sp[:, None], sc[None, :]) / np.minimum(sp[:, None], sc[None, :])
    norm = np.where(ratio <= 2.0, dist / scale, np.inf)
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    for k in np.argsort(norm, axis=None, kind="stable"):
        i, j = divmod(int(k), len(cols))
        if norm[i, j] > max_distance:
            break
        if i not in used_r and j not in used_c:
            used_r.add(i)
            used_c.add(j)
            pairs.append((rows[i], cols[j]))
    return pairs


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """Result of one frame: the faces with their ``track_id`` column filled in and the decisions made now."""

    faces: Faces
    decisions: tuple[Decision, ...] = ()
    improved: tuple[tuple[int, Shot], ...] = ()  # (track id, its new best shot) for tracks improved now
    ended: tuple[int, ...] = ()  # tracks forgotten in this frame (not seen for more than max_age_s)

    @property
    def track_ids(self) -> tuple[int, ...]:
        """A track id per face (same order as the faces)."""
        return self.faces.track_ids


def greedy_match(iou: npt.NDArray[np.float32], threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) taken by decreasing IoU, each row and column at most once, IoU >= threshold."""
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou >= threshold)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


@dataclass(slots=True)
class Tracker:
    """Per camera. ``labels`` are the classifier's labels, indexed by ``Faces.class_id``.

    With ``reference_fps`` (the camera's ``detect_fps``) the params follow the achieved analysis rate
    (edge_agent/core/rate.py); ``effective`` holds the params of the latest update."""

    params: TrackerParams
    labels: Sequence[Verdict]
    tracks: dict[int, Track] = field(default_factory=dict)
    _next_id: int = 1
    reference_fps: float | None = None
    rate: AnalysisRate = field(default_factory=AnalysisRate)
    effective: TrackerParams | None = None

    def _params_now(self, time: float) -> TrackerParams:
        """The params for this update: configured, or adapted to the achieved analysis rate."""
        if self.reference_fps is None:
            return self.params
        self.rate.observe(time)
        return adapt_to_rate(self.params, self.reference_fps, self.rate.fps)

    def update(self, faces: Faces, time: float, seen: npt.NDArray[np.bool_] | None = None,
               sharp: npt.NDArray[np.float32] | None = None, frame_size: tuple[int, int] | None = None
               ) -> TrackUpdate:
        """``seen``: which faces may vote (all when ``None``); ``sharp``: their sharpness (best shot);
        ``frame_size`` (width, height): a track predicted to have walked out of the frame ends."""
        p = self.effective = self._params_now(time)
        ended = tuple(tid for tid, t in self.tracks.items()
                      if time - t.last_seen > self._max_age(t) or _gone(t, time, frame_size))
        for tid in ended:
            del self.tracks[tid]
        live = list(self.tracks.values())
        ids = [0] * len(faces)
        if live and len(faces):
            prev = np.stack([t.predicted(time) for t in live])
            pairs = greedy_match(iou_matrix(prev, faces.xyxy), p.iou_threshold)
            free_r = [r for r in range(len(live)) if r not in {r for r, _ in pairs}]
            free_c = [c for c in range(len(faces)) if c not in {c for _, c in pairs}]
            pairs += distance_match(prev, faces.xyxy, p.max_distance, free_r, free_c)
            for r, c in pairs:
                ids[c] = live[r].track_id
        decisions: list[Decision] = []
        improved: list[tuple[int, Shot]] = []
        for i in range(len(faces)):
            if ids[i] == 0:
                ids[i] = self._next_id
                self.tracks[self._next_id] = Track(self._next_id, faces.xyxy[i], time, deque(maxlen=self.params.window))
                self._next_id += 1
            track = self.tracks[ids[i]]
            track.move_to(faces.xyxy[i], time)
            ok = True if seen is None else bool(seen[i])
            track.last_seen_well = ok
            shot = self._shot(track, faces, i, time, ok, 0.0 if sharp is None else float(sharp[i]))
            if shot is not None:
                improved.append((track.track_id, shot))
            decision = self._vote(track, int(faces.class_id[i]), float(faces.class_score[i]), time) if ok else None
            if decision is not None:
                decisions.append(decision)
        return TrackUpdate(faces.with_track_ids(ids), tuple(decisions), tuple(improved), ended)

    def _max_age(self, track: Track) -> float:
        """A track last seen as a clipped (or too small) face is a person leaving the frame: forgotten after
        ``unseen_max_age_s``, so that the next person entering at the same edge starts a track of their own
        instead of inheriting a decided one (and going without an event)."""
        p = self.effective or self.params
        return p.max_age_s if track.last_seen_well else min(p.max_age_s, p.unseen_max_age_s)

    def _shot(self, track: Track, faces: Faces, i: int, time: float, seen: bool, sharp: float) -> Shot | None:
        """This frame's face as the track's best shot, if it is better than the one kept (else ``None``)."""
        cid = int(faces.class_id[i])
        prob = float(faces.class_score[i])
        if track.verdict is not None and (cid < 0 or self.labels[cid] != track.verdict):
            prob = 0.0  # after the decision, the shot should show what was decided
        x1, y1, x2, y2 = (int(round(float(v))) for v in faces.xyxy[i])
        frontal = float(frontal_score(faces.landmarks[i])[0])
        shot = Shot((x1, y1, x2, y2), time, prob, float(faces.width[i] * faces.height[i]), sharp, not seen, frontal)
        if not is_better(track.best, shot):
            return None
        track.best = shot
        return shot

    def _vote(self, track: Track, class_id: int, prob: float, time: float) -> Decision | None:
        p = self.effective or self.params
        track.history.append((class_id, prob))
        if track.verdict is not None or class_id < 0:
            return None
        recent = list(track.history)[-p.window:]  # the window may be shorter than the deque at low rates
        agreeing = [q for c, q in recent if c == class_id and q >= p.min_confidence]
        if len(agreeing) < p.votes:
            return None
        track.verdict = self.labels[class_id]
        x1, y1, x2, y2 = (int(round(float(v))) for v in track.box)
        confidence = min(max(float(np.mean(agreeing)), 0.0), 1.0)  # float32 rounding must not leave [0, 1]
        return Decision(track.track_id, track.verdict, confidence, len(agreeing), (x1, y1, x2, y2), time)


@dataclass(slots=True)
class PeopleCounter:
    """Unique people decided per verdict since the last ``drain()`` (one stats interval)."""

    counts: Counter[Verdict] = field(default_factory=Counter)

    def add(self, decisions: Sequence[Decision]) -> None:
        for d in decisions:
            self.counts[d.verdict] += 1

    def drain(self, labels: Sequence[Verdict] = ()) -> dict[Verdict, int]:
        """Counts since the last drain (every label in ``labels`` present, zero if none), then reset."""
        out = {label: 0 for label in labels}
        out.update(self.counts)
        self.counts = Counter()
        return out
