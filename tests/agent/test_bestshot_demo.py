"""The demo scene through the real detector (CenterFace), the real TFLite classifier and the agent's camera
runner: a person walking in from the left edge gets one event whose snapshot shows a whole face, not the
half face of the moment they entered; a better face seen later arrives as revision 1 of the same event."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import PACKAGED_MODEL, parse_config
from edge_agent.core.topics import Topics, parse_topic
from edge_agent.outbox import Outbox
from edge_agent.pipeline import FramePipeline
from edge_agent.runtime import CameraRunner, Outputs
from edge_agent.sources.base import Frame
from edge_agent.sources.demo import DemoScene

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="the packaged model is missing"),
]
W, H = 1280, 720
T0 = 1_700_000_000.0
SCENE = DemoScene(W, H)
START, FRAMES = 4.0, 40


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    tmp: Path = tmp_path_factory.mktemp("bestshot")
    cfg = parse_config({"site": "s1", "agent_id": "a1", "queue": {"path": str(tmp / "q.sqlite3")},
                        "detector": {"type": "centerface"}, "preview": {"enabled": False},
                        "snapshots": {"face_crops": True},
                        "cameras": [{"name": "cam", "source": {"type": "demo"}, "width": 640, "height": 360}]})
    outbox = Outbox(cfg.queue.path)
    out = Outputs(cfg, Topics(cfg.mqtt.topic_prefix, cfg.site), outbox, None, None)
    runner = CameraRunner(cfg.cameras[0], FramePipeline(cfg, cfg.cameras[0]), out)
    scene = SCENE  # as ./deploy/demo.sh runs it: 1280x720, analysed at 640x360, 5 frames a second
    t0 = T0
    for i in range(FRAMES):  # from 4 s to 12 s: the first person (no mask) walks in from the left edge
        t = START + i * 0.2
        runner._analyse(Frame(image=scene.render(t), time=t0 + t, seq=i))
    runner._revise(t0 + 100.0, (), everything=True)  # what stop() does: the tracks end with the agent
    msgs = [(m.topic, m.payload) for m in outbox.take(10_000)]
    outbox.close()
    return msgs


def events(msgs: list[tuple[str, bytes]]) -> list[dict]:
    return [json.loads(p) for t, p in msgs if t.endswith("/event")]


def person(e: dict) -> int | None:
    """The scene's person under the event's box (ground truth): best IoU over the analysed frames (the box
    is the best shot's, which may come from an earlier frame than the decision)."""
    from edge_agent.core.detections import iou_matrix

    best, who = 0.3, None
    for i in range(FRAMES):
        people = SCENE.people_at(START + i * 0.2)
        if people:
            iou = iou_matrix([e["box"]], [p.box for p in people])[0]
            if iou.max() > best:
                best, who = float(iou.max()), people[int(iou.argmax())].person
    return who


def test_the_person_entering_from_the_edge_gets_one_event_with_a_whole_face(published) -> None:
    entering = [p for p in SCENE.people_at(6.0) if p.box[0] == 0]
    assert [p.label for p in entering] == ["without_mask"], "precondition: one violator enters from the left"
    evs = events(published)
    first = [e for e in evs if person(e) == entering[0].person]
    assert {e["event_id"] for e in first} and len({e["event_id"] for e in first}) == 1, "one event per person"
    assert first[0]["revision"] == 0
    for e in first:  # the decision and any revision: never a face cut by the frame border
        x1, y1, x2, y2 = e["box"]
        assert x1 > 2 and y1 > 2 and x2 < W - 2 and y2 < H - 2, e["box"]
        assert x2 - x1 >= 60, f"a whole face is about 90 px wide here, got {e['box']}"
        snaps = [p for t, p in published if t == e["snapshot"]]
        assert len(snaps) == 1
        img = cv2.imdecode(np.frombuffer(snaps[0], np.uint8), cv2.IMREAD_COLOR)
        rx1, ry1, rx2, ry2 = e["snapshot_region"]
        assert img.shape[:2] == (ry2 - ry1, rx2 - rx1)
        assert rx1 <= x1 and x2 <= rx2 and ry1 <= y1 and y2 <= ry2


def test_revisions_carry_the_same_event_id_and_a_larger_face(published) -> None:
    evs = events(published)
    by_id: dict[str, list[dict]] = {}
    for e in evs:
        by_id.setdefault(e["event_id"], []).append(e)
    assert by_id, "the scene has violators"
    for eid, versions in by_id.items():
        assert [v["revision"] for v in versions] in ([0], [0, 1]), eid
        if len(versions) == 2:
            a, b = versions
            area = lambda e: (e["box"][2] - e["box"][0]) * (e["box"][3] - e["box"][1])  # noqa: E731
            assert b["time"] == a["time"] and b["verdict"] == a["verdict"]
            parsed = parse_topic("maskwatch", b["snapshot"])
            assert parsed is not None and parsed.revision == 1 and parsed.event_id == eid
            assert area(b) >= 0.8 * area(a)


def test_opt_in_face_crops_are_the_face_at_full_resolution(published) -> None:
    for e in events(published):
        topic = e["snapshot"].replace("/snapshot/", "/face/")
        crops = [p for t, p in published if t == topic]
        assert len(crops) == 1, topic
        img = cv2.imdecode(np.frombuffer(crops[0], np.uint8), cv2.IMREAD_COLOR)
        side = max(e["box"][2] - e["box"][0], e["box"][3] - e["box"][1])
        assert 1.5 * side <= max(img.shape[:2]) <= 2.0 * side + 2
