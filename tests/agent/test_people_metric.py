"""The scripted walks scene (ground truth per person) and the per-person metric (motmetrics + events)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.core.detections import iou_matrix
from edge_agent.evaluation.people import TrackedFrame, score_people
from edge_agent.sources.walks import WalkScene, darken


@pytest.fixture(scope="module")
def scene() -> WalkScene:
    return WalkScene(people=12, seed=3)


@pytest.fixture(scope="module")
def truth(scene: WalkScene) -> dict:
    return scene.ground_truth(5.0)


def test_scene_has_what_the_metric_needs(scene: WalkScene, truth: dict) -> None:
    people = truth["people"]
    assert len(people) == 12 and all(p["frames"] for p in people)
    assert {p["from"] for p in people} == {"left", "right"}
    assert any(p["pauses"] for p in people) and any(p["turns"] for p in people)
    assert {p["dim"] for p in people} == {True, False}
    assert {p["label"] for p in people} == {"with_mask", "without_mask", "mask_incorrect"}
    by_t: dict[float, list[list[int]]] = {}
    for p in people:
        for t, *box in p["frames"]:
            by_t.setdefault(t, []).append(box)
    assert max(len(b) for b in by_t.values()) >= 2  # people in view together (passing each other)
    for boxes in by_t.values():  # faces never overlap: every person stays a separate, known track
        iou = iou_matrix(boxes, boxes)
        assert (iou[~np.eye(len(boxes), dtype=bool)] == 0).all()
    a, b = WalkScene(people=12, seed=3), scene
    assert np.array_equal(a.render(3.0), b.render(3.0)), "deterministic in scene time"
    bright, dim = scene.render(1.0), scene.render(scene.dim_from + 1.0)
    assert dim.mean() < 0.5 * bright.mean()


def test_darken_is_seeded_and_dark() -> None:
    img = np.full((50, 50, 3), 200, np.uint8)
    d1, d2 = darken(img, seed=5), darken(img, seed=5)
    assert np.array_equal(d1, d2) and 40 < d1.mean() < 80


def perfect(truth: dict) -> tuple[list[TrackedFrame], list[tuple[int, str]]]:
    by_t: dict[float, list[tuple[int, list[int]]]] = {}
    for p in truth["people"]:
        for t, *box in p["frames"]:
            by_t.setdefault(t, []).append((p["person"] + 100, box))
    frames = [TrackedFrame(t, tuple(i for i, _ in v), tuple(tuple(map(float, b)) for _, b in v))
              for t, v in sorted(by_t.items())]
    return frames, [(p["person"] + 100, p["label"]) for p in truth["people"]]


def test_a_perfect_tracker_scores_perfectly(truth: dict) -> None:
    frames, decisions = perfect(truth)
    s = score_people(truth, frames, decisions)
    assert (s.exactly_one_right_rate, s.events_per_person, s.idf1, s.id_switches, s.fragmentations) == (
        1.0, 1.0, 1.0, 0, 0)


def test_switches_duplicates_wrong_verdicts_and_ghosts_are_counted(truth: dict) -> None:
    frames, decisions = perfect(truth)
    p0 = truth["people"][0]
    half = p0["frames"][len(p0["frames"]) // 2][0]
    # person 0's track changes id halfway: an ID switch, and a second decision on the same person
    frames = [TrackedFrame(f.time, tuple(999 if (i == 100 and f.time >= half) else i for i in f.track_ids), f.boxes)
              for f in frames]
    decisions = decisions + [(999, p0["label"])]
    p1 = truth["people"][1]
    decisions = [(t, "with_mask" if t == 101 and v != "with_mask" else ("without_mask" if t == 101 else v))
                 for t, v in decisions]  # person 1 decided wrongly
    decisions.append((12345, "without_mask"))  # a track that never was on anybody
    s = score_people(truth, frames, decisions)
    assert s.id_switches >= 1 and s.idf1 < 1.0
    assert s.per_person[p0["person"]] == [p0["label"], p0["label"]]
    assert s.per_person[p1["person"]] != [p1["label"]]
    assert s.exactly_one_right == len(truth["people"]) - 2
    assert s.decisions_on_nobody == 1 and s.decisions == len(truth["people"]) + 2
