"""Tracking and vote debouncing: hand-computed, table-driven cases."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.core.detections import Faces
from edge_agent.core.tracking import PeopleCounter, Tracker, TrackerParams, greedy_match

LABELS = ("with_mask", "without_mask", "mask_incorrect")
A = (0, 0, 10, 10)
B = (100, 100, 120, 120)


def faces(*rows: tuple[tuple[float, float, float, float], int, float]) -> Faces:
    if not rows:
        return Faces.empty()
    boxes = [r[0] for r in rows]
    return Faces(np.array(boxes, np.float32), np.ones(len(rows), np.float32),
                 np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))


@pytest.mark.parametrize(("iou", "thr", "expected"), [
    (np.array([[0.9, 0.5], [0.6, 0.1]], np.float32), 0.3, [(0, 0)]),  # 0.9 taken first, blocks row 0 / col 0
    (np.array([[0.9, 0.5], [0.6, 0.4]], np.float32), 0.3, [(0, 0), (1, 1)]),
    (np.array([[0.2]], np.float32), 0.3, []),
    (np.array([[0.3]], np.float32), 0.3, [(0, 0)]),  # threshold inclusive
    (np.empty((0, 2), np.float32), 0.3, []),
])
def test_greedy_match(iou: np.ndarray, thr: float, expected: list[tuple[int, int]]) -> None:
    assert sorted(greedy_match(iou, thr)) == expected


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"votes": 6, "window": 5}, "votes"),
    ({"iou_threshold": 0.0}, "iou_threshold"),
    ({"max_age_s": 0.0}, "max_age_s"),
    ({"min_confidence": 1.5}, "min_confidence"),
    ({"max_distance": -1.0}, "max_distance"),
])
def test_params_fail_fast_naming_the_argument(kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        TrackerParams(**kwargs)  # type: ignore[arg-type]


# Each case: a sequence of (class_id, prob) for one face staying in place, votes/window/min_confidence,
# and the frame index (0-based) at which the decision appears (None: never), its verdict and confidence.
VOTE_CASES = [
    ("three agreeing frames", [(1, 0.9)] * 5, 3, 5, 0.6, 2, "without_mask", 0.9),
    ("one vote suffices", [(0, 0.7)], 1, 1, 0.6, 0, "with_mask", 0.7),
    ("low confidence does not vote", [(1, 0.5), (1, 0.9), (1, 0.9), (1, 0.9)], 3, 5, 0.6, 3, "without_mask", 0.9),
    ("all below min_confidence", [(1, 0.55)] * 8, 3, 5, 0.6, None, None, None),
    ("flip-flop never reaches 3 of 5",
     [(0, 0.9), (1, 0.9), (0, 0.9), (1, 0.9), (2, 0.9), (0, 0.9), (2, 0.9)], 3, 5, 0.6, None, None, None),
    ("3 of last 5, not consecutive", [(1, 0.8), (0, 0.9), (1, 0.7), (0, 0.9), (1, 0.9)], 3, 5, 0.6, 4,
     "without_mask", 0.8),
    ("old votes leave the window", [(1, 0.9), (0, 0.9), (0, 0.9), (1, 0.9), (2, 0.9), (1, 0.9)], 3, 4, 0.6,
     None, None, None),
    ("unclassified frames do not vote", [(-1, 0.0), (2, 0.8), (2, 0.6), (-1, 0.0)], 2, 3, 0.6, 2,
     "mask_incorrect", 0.7),
]


@pytest.mark.parametrize(("name", "seq", "votes", "window", "min_conf", "at", "verdict", "conf"), VOTE_CASES,
                         ids=[c[0] for c in VOTE_CASES])
def test_vote_debouncing(name: str, seq: list[tuple[int, float]], votes: int, window: int, min_conf: float,
                         at: int | None, verdict: str | None, conf: float | None) -> None:
    tr = Tracker(TrackerParams(votes=votes, window=window, min_confidence=min_conf), LABELS)
    decided = []
    for i, (cid, p) in enumerate(seq):
        up = tr.update(faces((A, cid, p)), time=float(i) * 0.1)
        assert up.track_ids == (1,)
        decided += [(i, d) for d in up.decisions]
    if at is None:
        assert decided == []
        return
    assert len(decided) == 1, "a track decides once"
    i, d = decided[0]
    assert (i, d.verdict, d.track_id) == (at, verdict, 1)
    assert d.confidence == pytest.approx(conf)
    assert d.box == A and d.time == pytest.approx(at * 0.1)


def test_decides_once_even_if_it_keeps_agreeing() -> None:
    tr = Tracker(TrackerParams(votes=2, window=3), LABELS)
    n = sum(len(tr.update(faces((A, 1, 0.9)), float(t)).decisions) for t in range(10))
    assert n == 1


def test_two_people_keep_their_ids_when_order_changes() -> None:
    tr = Tracker(TrackerParams(), LABELS)
    first = tr.update(faces((A, 0, 0.9), (B, 1, 0.9)), 0.0)
    moved_b = (102, 101, 122, 121)
    second = tr.update(faces((moved_b, 1, 0.9), (A, 0, 0.9)), 0.2)
    assert first.track_ids == (1, 2)
    assert second.track_ids == (2, 1)


@pytest.mark.parametrize(("gap", "same"), [(1.9, True), (2.0, True), (2.1, False)])
def test_track_forgotten_after_max_age(gap: float, same: bool) -> None:
    tr = Tracker(TrackerParams(max_age_s=2.0), LABELS)
    tr.update(faces((A, 0, 0.9)), 10.0)
    tid = tr.update(faces((A, 0, 0.9)), 10.0 + gap).track_ids[0]
    assert (tid == 1) is same


@pytest.mark.parametrize(("box", "same"), [((5, 0, 15, 10), True), ((7, 0, 17, 10), False)])
def test_non_overlapping_face_starts_new_track_with_iou_only(box: tuple[int, ...], same: bool) -> None:
    # IoU of (0,0,10,10) and (5,0,15,10) = 50/150 = 0.333 -> same; (7,0,17,10): 30/170 = 0.18 -> new
    tr = Tracker(TrackerParams(iou_threshold=0.3, max_distance=0.0), LABELS)
    tr.update(faces((A, 0, 0.9)), 0.0)
    assert (tr.update(faces((box, 0, 0.9)), 0.1).track_ids == (1,)) is same


def test_empty_frame() -> None:
    tr = Tracker(TrackerParams(), LABELS)
    assert tr.update(Faces.empty(), 0.0).track_ids == ()


def test_people_counter_counts_each_person_once_per_interval() -> None:
    tr = Tracker(TrackerParams(votes=2, window=3), LABELS)
    counter = PeopleCounter()
    for t in range(6):  # A decides without_mask at frame 1, B decides with_mask at frame 1
        counter.add(tr.update(faces((A, 1, 0.9), (B, 0, 0.8)), t * 0.1).decisions)
    assert counter.drain(LABELS) == {"with_mask": 1, "without_mask": 1, "mask_incorrect": 0}
    assert counter.drain(LABELS) == {"with_mask": 0, "without_mask": 0, "mask_incorrect": 0}
    for t in range(6, 9):  # a new person (new track) appears far from the others
        counter.add(tr.update(faces(((300, 300, 330, 330), 1, 0.9)), t * 0.1 + 5.0).decisions)
    assert counter.drain(LABELS)["without_mask"] == 1


def _box(cx: float, cy: float, size: float = 40.0) -> tuple[float, float, float, float]:
    return (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)


def test_fast_walker_at_low_rate_keeps_one_track() -> None:
    # 2 analysed frames/s, the face moves 60 px (1.5 face widths) per frame: no IoU with its last box,
    # but constant-velocity prediction and the distance fallback keep one track and one decision.
    tr = Tracker(TrackerParams(votes=3, window=5), LABELS)
    ids, decisions = set(), 0
    for k in range(8):
        update = tr.update(faces((_box(100 + 60 * k, 200), 1, 0.9)), k * 0.5)
        ids.update(update.track_ids)
        decisions += len(update.decisions)
    assert ids == {1}
    assert decisions == 1


def test_two_walkers_crossing_keep_their_ids() -> None:
    tr = Tracker(TrackerParams(), LABELS)
    seen: dict[int, set[int]] = {1: set(), 2: set()}  # walker -> track ids given to it
    for k in range(10):
        left_to_right = _box(100 + 40 * k, 200)
        right_to_left = _box(460 - 40 * k, 260)
        update = tr.update(faces((left_to_right, 0, 0.9), (right_to_left, 1, 0.9)), k * 0.5)
        seen[1].add(update.track_ids[0])
        seen[2].add(update.track_ids[1])
    assert seen == {1: {1}, 2: {2}}


@pytest.mark.parametrize(("jump", "size", "same"), [
    (35.0, 40.0, True),    # under one face size away
    (75.0, 40.0, True),    # under two face sizes away
    (100.0, 40.0, False),  # a still track: 2.5 face sizes away is someone else
    (20.0, 100.0, False),  # near, but 2.5x the size: someone else (closer to the camera)
])
def test_distance_fallback_limits(jump: float, size: float, same: bool) -> None:
    tr = Tracker(TrackerParams(max_distance=2.0), LABELS)
    tr.update(faces((_box(200, 200), 0, 0.9)), 0.0)
    tid = tr.update(faces((_box(200 + jump, 200, size), 0, 0.9)), 0.5).track_ids[0]
    assert (tid == 1) is same
