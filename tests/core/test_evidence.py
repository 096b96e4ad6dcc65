"""Well-seen faces, best shots and the snapshot region (core.evidence), the tracker's use of them, and the
agent's best-shot keeper (edge_agent.bestshot): hand-computed, table-driven cases."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from edge_agent.bestshot import BestShots
from edge_agent.core.detections import Faces
from edge_agent.core.evidence import (
    SeenParams,
    Shot,
    clipped,
    context_region,
    face_sharpness,
    frontal_score,
    inside_roi,
    is_better,
    sharpness,
    well_seen,
)
from edge_agent.core.frames import Frame, FrameResult
from edge_agent.core.roi import Roi
from edge_agent.core.topics import Topics, parse_topic
from edge_agent.core.tracking import Tracker, TrackerParams
from edge_agent.events import ViolationEvent

LABELS = ("with_mask", "without_mask", "mask_incorrect")
W, H = 1280, 720


def faces(*boxes: tuple[float, float, float, float], cls: int = 1, prob: float = 0.9) -> Faces:
    n = len(boxes)
    return Faces(np.array(boxes, np.float32).reshape(n, 4), np.ones(n, np.float32), np.full(n, cls), np.full(n, prob))


@pytest.mark.parametrize(("box", "border", "expected"), [
    ((0, 150, 55, 261), 2, True),          # the demo's half face at the left edge
    ((2, 150, 57, 261), 2, True),          # within the border
    ((3, 150, 58, 261), 2, False),
    ((1200, 100, 1280, 200), 2, True),     # right edge
    ((600, 650, 680, 720), 2, True),       # bottom edge
    ((600, 300, 680, 400), 0, False),
    ((-10, 300, 50, 400), 0, True),        # beyond the frame
])
def test_clipped_by_the_frame_border(box: tuple[int, ...], border: int, expected: bool) -> None:
    assert bool(clipped([box], W, H, border)[0]) is expected


def test_well_seen_drops_clipped_small_and_roi_straddling_faces() -> None:
    roi = Roi.from_points([(0.25, 0.0), (0.75, 0.0), (0.75, 1.0), (0.25, 1.0)])  # x 320..960
    f = faces((0, 150, 55, 261), (500, 300, 520, 320), (300, 300, 400, 420), (500, 300, 600, 420))
    assert well_seen(f, W, H, SeenParams(min_face_px=24)).tolist() == [False, False, True, True]
    assert well_seen(f, W, H, SeenParams(min_face_px=24), roi).tolist() == [False, False, False, True]
    assert well_seen(f, W, H, SeenParams(min_face_px=24, whole_in_roi=False), roi).tolist() == [
        False, False, True, True]
    assert well_seen(f, W, H, SeenParams(border_px=0, min_face_px=0)).tolist() == [False, True, True, True]
    assert well_seen(Faces.empty(), W, H, SeenParams()).shape == (0,)
    assert inside_roi([(300, 300, 400, 420)], W, H, roi).tolist() == [False]


@pytest.mark.parametrize(("kwargs", "word"), [({"border_px": -1}, "border_px"), ({"min_face_px": -3}, "min_face_px")])
def test_seen_params_fail_fast(kwargs: dict[str, int], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        SeenParams(**kwargs)


def shot(area: float = 100.0 * 100, prob: float = 0.9, sharp: float = 100.0, clip: bool = False,
         frontal: float = 1.0) -> Shot:
    return Shot((0, 0, 1, 1), 0.0, prob, area, sharp, clip, frontal)


@pytest.mark.parametrize(("current", "new", "better"), [
    (None, shot(clip=True), True),
    (shot(clip=True, area=4e4), shot(area=1e4), True),      # unclipped beats clipped, even smaller
    (shot(area=1e4), shot(clip=True, area=4e4), False),     # clipped never replaces unclipped
    (shot(), shot(prob=0.96), True),                        # +0.06 probability
    (shot(), shot(prob=0.94), False),                       # +0.04: not enough
    (shot(), shot(area=1.2e4), True),                       # 20% larger
    (shot(), shot(area=1.05e4), False),                     # 5% larger: no churn
    (shot(), shot(area=1.2e4, sharp=50.0), False),          # larger but blurred
    (shot(), shot(sharp=200.0), True),                      # same size, twice as sharp
    (shot(), shot(prob=0.99, area=0.7e4), False),           # a much smaller face is not bought by a score
    (shot(), shot(prob=0.99, frontal=0.5), False),          # nor a turned-away one
    (shot(frontal=0.5), shot(frontal=0.9), True),
])
def test_is_better(current: Shot | None, new: Shot, better: bool) -> None:
    assert is_better(current, new) is better


def test_sharpness_falls_with_blur() -> None:
    rng = np.random.default_rng(0)
    sharp_img = (rng.random((64, 64)) * 255).astype(np.uint8)
    blurred = sharp_img.astype(np.float32)
    for _ in range(4):
        blurred = (blurred + np.roll(blurred, 1, 0) + np.roll(blurred, 1, 1) + np.roll(blurred, 1, (0, 1))) / 4
    assert sharpness(blurred) < 0.1 * sharpness(sharp_img)
    assert sharpness(np.zeros((2, 2))) == 0.0
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[20:60, 20:60] = np.stack([sharp_img[:40, :40]] * 3, axis=2)
    s = face_sharpness(frame, [(20, 20, 60, 60), (70, 70, 90, 90), (5, 5, 6, 6)])
    assert s[0] > 0 and s[1] == 0 and s[2] == 0


@pytest.mark.parametrize(("box", "expected"), [
    ((600, 300, 700, 400), (400, 100, 900, 600)),   # two face sizes each side
    ((0, 150, 55, 261), (0, 0, 277, 483)),         # clipped to the frame
    ((5000, 5000, 5100, 5100), (1278, 718, 1280, 720)),  # outside: a sliver at the corner, as before
])
def test_context_region(box: tuple[int, ...], expected: tuple[int, ...]) -> None:
    assert context_region(box, W, H) == expected


def test_faces_clipped_by_the_border_are_tracked_but_do_not_vote() -> None:
    """A person entering from the left: three frames of half a face, then whole faces."""
    tr = Tracker(TrackerParams(votes=3, window=5), LABELS)
    boxes = [(0, 150, 55, 261), (0, 150, 80, 261), (0, 150, 100, 261), (10, 150, 121, 261), (30, 150, 141, 261),
             (50, 150, 161, 261)]
    decided_at = None
    for k, b in enumerate(boxes):
        f = faces(b)
        up = tr.update(f, k * 0.2, well_seen(f, W, H, SeenParams()))
        assert up.track_ids == (1,)
        if up.decisions:
            decided_at = k
            assert up.decisions[0].box == (50, 150, 161, 261)
    assert decided_at == 5  # without the filter it decides at frame 2, on half a face


def test_tracker_keeps_the_best_shot_and_reports_ended_tracks() -> None:
    tr = Tracker(TrackerParams(max_age_s=1.0), LABELS)
    seen = np.array([True])
    sizes = [60, 80, 82, 120, 90]
    improved = []
    for k, s in enumerate(sizes):
        up = tr.update(faces((300, 200, 300 + s, 200 + s)), k * 0.2, seen, np.array([100.0], np.float32))
        improved.append([sh.box[2] - sh.box[0] for _, sh in up.improved])
    assert improved == [[60], [80], [], [120], []]  # 82 is under 10% larger than 80; 90 is smaller
    best = tr.tracks[1].best
    assert best is not None and best.box == (300, 200, 420, 320)
    assert tr.update(Faces.empty(), 5.0).ended == (1,)
    assert tr.tracks == {}


def test_a_clipped_face_is_replaced_by_the_first_whole_one() -> None:
    tr = Tracker(TrackerParams(), LABELS)
    f1 = faces((0, 150, 120, 261))
    tr.update(f1, 0.0, well_seen(f1, W, H, SeenParams()))
    f2 = faces((20, 150, 100, 230))
    up = tr.update(f2, 0.2, well_seen(f2, W, H, SeenParams()))
    assert [s.box for _, s in up.improved] == [(20, 150, 100, 230)]


FRONTAL = [[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]]  # eyes, nose midway, mouth corners
TURNED = [[30, 40], [45, 40], [42, 60], [35, 80], [48, 80]]  # nose near the far eye: three-quarter view
PROFILE = [[40, 40], [48, 40], [30, 60], [35, 80], [45, 80]]  # nose beyond both eyes


@pytest.mark.parametrize(("points", "low", "high"), [(FRONTAL, 1.0, 1.0), (TURNED, 0.3, 0.5), (PROFILE, 0.0, 0.0),
                                                     ([[50, 40]] * 5, 0.0, 0.0),
                                                     ([[float("nan")] * 2] * 5, 1.0, 1.0)])  # no landmarks
def test_frontal_score(points: list[list[float]], low: float, high: float) -> None:
    score = frontal_score(np.array([points], np.float32))
    assert score.shape == (1,) and low <= score[0] <= high


def test_faces_check_the_landmarks_shape() -> None:
    with pytest.raises(ValueError, match="landmarks"):
        Faces(np.zeros((2, 4)), np.ones(2), landmarks=np.zeros((1, 5, 2)))


@pytest.mark.parametrize("first_profile", [True, False])
def test_a_turned_face_loses_the_best_shot_to_a_frontal_one_of_the_same_size(first_profile: bool) -> None:
    tr = Tracker(TrackerParams(), LABELS)
    box = (300.0, 200.0, 400.0, 300.0)
    order = [PROFILE, FRONTAL] if first_profile else [FRONTAL, PROFILE]
    for k, pts in enumerate(order):
        lm = np.array([pts], np.float32) + np.array(box[:2], np.float32)
        prob = 0.96 if pts is PROFILE else 0.9  # the profile even scores higher
        f = Faces(np.array([box], np.float32), np.ones(1, np.float32), np.full(1, 1), np.full(1, prob), landmarks=lm)
        tr.update(f, k * 0.2, np.array([True]), np.array([100.0], np.float32))
    best = tr.tracks[1].best
    assert best is not None
    assert best.time == order.index(FRONTAL) * 0.2 and best.frontal == 1.0


def _event(t: float) -> ViolationEvent:
    return ViolationEvent(site="s", agent="a", time=datetime.fromtimestamp(t, UTC), event_id="e1", camera="c",
                          track_id=1, verdict="without_mask", confidence=0.9, box=(1, 1, 2, 2), frame_size=(W, H),
                          votes=3)


def _result(image: np.ndarray, t: float, box: tuple[int, int, int, int], sh: Shot | None,
            ended: tuple[int, ...] = ()) -> FrameResult:
    return FrameResult(Frame(image, t), faces(box).with_track_ids((1,)), improved=((1, sh),) if sh else (),
                       ended=ended)


def test_best_shots_revise_once_when_the_track_ends_or_the_wait_is_over() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    first = Shot((600, 300, 700, 400), 10.0, 0.9, 1e4, 50.0, False)
    better = Shot((600, 300, 760, 460), 11.0, 0.9, 2.56e4, 50.0, False)
    bs = BestShots(wait_s=5.0)
    bs.observe(_result(frame, 10.0, first.box, first))
    kept = bs.best(1)
    assert kept is not None and kept.region == (400, 100, 900, 600) and kept.crop.shape == (500, 500, 3)
    bs.published(1, _event(10.0), first)
    assert bs.due(10.5) == []  # nothing better yet, not due
    bs.observe(_result(frame, 11.0, better.box, better))
    assert bs.due(12.0) == []  # better, but the track lives and the wait is not over
    out = bs.due(15.0)
    assert [(p.event.event_id, k.shot) for p, k in out] == [("e1", better)]
    assert bs.due(16.0, ended=(1,)) == []  # once only
    assert bs.best(1) is None

    bs.observe(_result(frame, 20.0, first.box, first))
    bs.published(1, _event(20.0), first)
    assert bs.due(21.0, ended=(1,)) == []  # the track ended with nothing better: no revision
    off = BestShots(wait_s=0.0)
    off.observe(_result(frame, 20.0, first.box, first))
    off.published(1, _event(20.0), first)
    off.observe(_result(frame, 21.0, better.box, better))
    assert off.due(100.0, ended=(1,)) == []


def test_snapshot_revision_topics_round_trip() -> None:
    t = Topics("maskwatch", "hq")
    assert t.snapshot("cam", "e1") == "maskwatch/hq/camera/cam/snapshot/e1"
    p = parse_topic("maskwatch", t.snapshot("cam", "e1", 2))
    assert p is not None and (p.event_id, p.revision) == ("e1", 2)
    p0 = parse_topic("maskwatch", t.snapshot("cam", "e1"))
    assert p0 is not None and p0.revision == 0
    for bad in ("maskwatch/hq/camera/cam/snapshot/e1/0", "maskwatch/hq/camera/cam/snapshot/e1/x",
                "maskwatch/hq/camera/cam/snapshot/e1/99999"):
        assert parse_topic("maskwatch", bad) is None
    with pytest.raises(ValueError, match="revision"):
        t.snapshot("cam", "e1", -1)


def test_a_person_leaving_at_the_edge_is_not_continued_by_the_next_one_entering_there() -> None:
    """Person A walks out at the left edge (decided), person B walks in there 0.6 s later: B needs a track and a
    decision of their own (with the plain max_age_s of 2 s, B inherited A's decided track and got no event)."""
    tr = Tracker(TrackerParams(votes=2, window=3), LABELS)
    t = 0.0
    for x1 in (200, 150, 100, 50, 10, 0):  # A leaves; the last two faces touch the border
        f = faces((x1, 150, x1 + 100, 260) if x1 else (0, 150, 60, 260))
        tr.update(f, t, well_seen(f, W, H, SeenParams()))
        t += 0.2
    t += 0.6
    ids, decided = set(), []
    for x1 in (0, 10, 50, 100):  # B enters at the same place
        f = faces((x1, 150, x1 + 100, 260) if x1 else (0, 150, 60, 260), cls=0)
        up = tr.update(f, t, well_seen(f, W, H, SeenParams()))
        ids.update(up.track_ids)
        decided += [d.verdict for d in up.decisions]
        t += 0.2
    assert 1 not in ids and decided == ["with_mask"]


def test_a_track_predicted_out_of_the_frame_ends() -> None:
    """A face moving right, last seen well inside the frame: once
    its predicted centre is outside the frame the track ends, and a newcomer there gets a new one."""
    tr = Tracker(TrackerParams(), LABELS)
    for k, x1 in enumerate((1000, 1060, 1120, 1170)):
        tr.update(faces((x1, 100, x1 + 100, 200)), k * 0.2, None, None, (W, H))
    assert tr.update(Faces.empty(), 0.8, None, None, (W, H)).ended == ()  # predicted centre 1280: still in
    up = tr.update(faces((1220, 100, 1280, 200)), 1.2, None, None, (W, H))  # predicted centre ~1340: gone
    assert up.ended == (1,) and up.track_ids == (2,)
    still = Tracker(TrackerParams(), LABELS)  # without the frame size the old rule (max_age_s) applies
    for k, x1 in enumerate((1000, 1060, 1120, 1170)):
        still.update(faces((x1, 100, x1 + 100, 200)), k * 0.2)
    assert still.update(faces((1220, 100, 1280, 200)), 1.2).track_ids == (1,)
