"""The per-person video metric: how the tracker's tracks and decisions compare with each person's truth.

Inputs: the ground truth of a scene (each person's label and face box per analysed frame, as written by
``WalkScene.ground_truth``), the tracks the agent reported per frame (track id and box per face) and its
decisions (track id, verdict). Outputs:

- CLEAR-MOT / identity figures from ``motmetrics`` (IoU >= 0.5 matching): IDF1, ID switches,
  fragmentations, MOTA;
- per person: the decisions whose track was mostly on that person (majority of its matched frames);
  "exactly one, right" when a person has one decision and its verdict is the person's label;
- events per person: decisions per person (every tracked person is decided once, violators become events);
  violation events per violator likewise; decisions on no person (false tracks) are counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.core.detections import iou_matrix
from edge_agent.core.labels import VIOLATIONS

MATCH_IOU = 0.5


@dataclass(frozen=True, slots=True)
class TrackedFrame:
    """What the agent reported for one analysed frame."""

    time: float
    track_ids: tuple[int, ...]
    boxes: tuple[tuple[float, float, float, float], ...]


@dataclass(frozen=True, slots=True)
class PeopleScore:
    people: int
    exactly_one_right: int
    decisions: int
    decisions_on_nobody: int
    violators: int
    violation_events: int
    idf1: float
    id_switches: int
    fragmentations: int
    mota: float
    per_person: dict[int, list[str]]  # person -> verdicts decided on them

    @property
    def exactly_one_right_rate(self) -> float:
        return self.exactly_one_right / self.people if self.people else float("nan")

    @property
    def events_per_person(self) -> float:
        return self.decisions / self.people if self.people else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"people": self.people, "exactly_one_right": self.exactly_one_right,
                "exactly_one_right_rate": round(self.exactly_one_right_rate, 4),
                "events_per_person": round(self.events_per_person, 4), "decisions": self.decisions,
                "decisions_on_nobody": self.decisions_on_nobody, "violators": self.violators,
                "violation_events": self.violation_events, "idf1": round(self.idf1, 4),
                "id_switches": self.id_switches, "fragmentations": self.fragmentations, "mota": round(self.mota, 4)}


def _gt_by_time(ground_truth: Mapping[str, Any]) -> dict[float, list[tuple[int, list[float]]]]:
    out: dict[float, list[tuple[int, list[float]]]] = defaultdict(list)
    for p in ground_truth["people"]:
        for t, *box in p["frames"]:
            out[round(float(t), 3)].append((int(p["person"]), [float(v) for v in box]))
    return out


def score_people(ground_truth: Mapping[str, Any], frames: Sequence[TrackedFrame],
                 decisions: Sequence[tuple[int, str]]) -> PeopleScore:
    """``decisions``: (track id, verdict) in the order made."""
    try:
        import motmetrics as mm
    except ImportError as err:  # pragma: no cover - dev dependency
        raise ImportError("the per-person metric needs motmetrics (pip install motmetrics)") from err
    gt = _gt_by_time(ground_truth)
    acc = mm.MOTAccumulator(auto_id=True)
    on_person: dict[int, Counter[int]] = defaultdict(Counter)  # track -> matched frames per person
    for f in frames:
        truth = gt.get(round(f.time, 3), [])
        gt_ids = [pid for pid, _ in truth]
        # IoU distance with the core's IoU (motmetrics 1.4's own iou_matrix needs NumPy < 2)
        iou = iou_matrix([b for _, b in truth], list(f.boxes)).astype(float)
        dist = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
        acc.update(gt_ids, list(f.track_ids), dist)
    events = acc.mot_events
    matched = events[events.Type.isin(["MATCH", "SWITCH"])]
    for oid, hid in zip(matched.OId.tolist(), matched.HId.tolist(), strict=True):
        on_person[int(hid)][int(oid)] += 1
    summary = mm.metrics.create().compute(acc, metrics=["idf1", "num_switches", "num_fragmentations", "mota"],
                                          name="scene")
    labels = {int(p["person"]): str(p["label"]) for p in ground_truth["people"] if p["frames"]}
    per_person: dict[int, list[str]] = {pid: [] for pid in labels}
    nobody = 0
    for tid, verdict in decisions:
        votes = on_person.get(tid)
        if not votes:
            nobody += 1
            continue
        per_person.setdefault(votes.most_common(1)[0][0], []).append(verdict)
    right = sum(1 for pid, v in per_person.items() if pid in labels and v == [labels[pid]])
    violators = sum(1 for lab in labels.values() if lab in VIOLATIONS)
    violation_events = sum(1 for _, v in decisions if v in VIOLATIONS)
    row = summary.loc["scene"]
    return PeopleScore(len(labels), right, len(decisions), nobody, violators, violation_events,
                       float(row["idf1"]), int(row["num_switches"]), int(row["num_fragmentations"]),
                       float(row["mota"]), per_person)
