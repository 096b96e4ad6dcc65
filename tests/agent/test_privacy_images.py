"""Privacy by default on the device (docs/privacy.md): the real agent (runtime, real CenterFace, real int8
TFLite classifier) on a composed frame of several real faces, a real mosquitto, and a subscriber to ``#``.

Measured, not assumed: the detail (variance of the Laplacian) of each bystander's face in the published
snapshot and preview against the same region of the original frame; and in ``no_images`` mode, not one JPEG
start-of-image marker in any payload the broker delivers."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import mosquitto
from helpers.agent import RuntimeThread, agent_config, validate
from helpers.mosquitto import Mosquitto
from helpers.mqtt_collector import Collector
from helpers.net import wait_for

from edge_agent.config import PACKAGED_MODEL, PreviewConfig, SnapshotConfig, parse_config
from edge_agent.core.labels import WITH_MASK, WITHOUT_MASK
from edge_agent.snapshot import context_region, preview_jpeg, violation_snapshot
from edge_agent.sources.demo import draw_mask, packaged_faces

pytestmark = [pytest.mark.timeout(300)]


def real(test):  # noqa: ANN001, ANN201
    """The real agent on a real broker: integration, slow, skipped without mosquitto or the model."""
    for mark in (pytest.mark.integration, pytest.mark.slow,
                 pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed"),
                 pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason=f"no classifier model ({PACKAGED_MODEL})")):
        test = mark(test)
    return test


W, H = 960, 540
FACE_W = 110
SOI = b"\xff\xd8"


def detail(img: np.ndarray) -> float:
    """Fine detail: variance of the Laplacian, after a light smoothing (sigma 1 px) that removes JPEG block
    noise and ringing (a face's eyes, nose and mouth are far larger than that)."""
    gray = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (0, 0), 1.0)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def compose() -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[str]]:
    """Three real faces side by side: unmasked in the middle, masked either side. Returns the frame, the true
    face boxes and what each wears."""
    faces = packaged_faces()
    people = [(faces[-1], WITH_MASK), (faces[0], WITHOUT_MASK), (faces[0], WITH_MASK)]
    frame = np.full((H, W, 3), 128, np.uint8)
    boxes, labels = [], []
    for i, (face, label) in enumerate(people):
        img = draw_mask(face, label)
        x1, y1, x2, y2 = face.box
        s = FACE_W / (x2 - x1)
        # the face with a margin of 0.6 face sizes, scaled so the face is FACE_W wide
        mx, my = int(0.6 * (x2 - x1)), int(0.6 * (y2 - y1))
        cx1, cy1 = max(0, x1 - mx), max(0, y1 - my)
        cx2, cy2 = min(img.shape[1], x2 + mx), min(img.shape[0], y2 + my)
        patch = cv2.resize(img[cy1:cy2, cx1:cx2], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        ox, oy = 150 + i * 230, 120
        ph, pw = min(patch.shape[0], H - oy), min(patch.shape[1], W - ox)
        frame[oy:oy + ph, ox:ox + pw] = patch[:ph, :pw]
        fx1, fy1 = ox + int((x1 - cx1) * s), oy + int((y1 - cy1) * s)
        boxes.append((fx1, fy1, fx1 + int((x2 - x1) * s), fy1 + int((y2 - y1) * s)))
        labels.append(label)
    return frame, boxes, labels


def write_video(path: Path, frame: np.ndarray, frames: int = 20) -> np.ndarray:
    """A short MJPG clip of the still frame (looped by the file source); returns the frame as decoded, the
    exact pixels the agent sees."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    assert out.isOpened()
    for _ in range(frames):
        out.write(frame)
    out.release()
    cap = cv2.VideoCapture(str(path))
    ok, seen = cap.read()
    cap.release()
    assert ok
    return seen


def iou(a, b) -> float:  # noqa: ANN001
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def inner(box, shrink: float = 0.1):  # noqa: ANN001
    x1, y1, x2, y2 = box
    dx, dy = int((x2 - x1) * shrink), int((y2 - y1) * shrink)
    return x1 + dx, y1 + dy, x2 - dx, y2 - dy


def region(img: np.ndarray, box, offset=(0, 0), shrink: float = 0.1) -> np.ndarray:  # noqa: ANN001
    """The face inside ``box`` (its edges left out: a preview draws each detected box's outline there)."""
    x1, y1, x2, y2 = inner(box, shrink)
    return img[y1 - offset[1]:y2 - offset[1], x1 - offset[0]:x2 - offset[0]]


def run_agent(tmp_path: Path, broker: Mosquitto, **extra: object):  # noqa: ANN201
    frame, boxes, labels = compose()
    original = write_video(tmp_path / "scene.avi", frame)
    cam = {"name": "door", "source": {"type": "file", "path": str(tmp_path / "scene.avi"), "loop": True},
           "detect_fps": 4, **extra.pop("camera", {})}  # type: ignore[dict-item]
    cfg = agent_config(tmp_path, broker.port, [cam], detector={"type": "centerface", "score_threshold": 0.4},
                       snapshots={"max_width": 3840}, preview={"fps": 4, "width": 1920}, **extra)
    col = Collector(broker.port, "#").start()
    rt = RuntimeThread(cfg).start()
    return col, original, boxes, labels, rt


MIDDLE_ONLY = [[0.4, 0.0], [0.65, 0.0], [0.65, 1.0], [0.4, 1.0]]


@real
@pytest.mark.parametrize("roi", [None, MIDDLE_ONLY], ids=["whole-frame", "roi-middle-face-only"])
def test_bystanders_are_blurred_in_published_snapshots_and_previews(tmp_path: Path, broker: Mosquitto,
                                                                     roi: list | None) -> None:
    """With a region of interest, faces outside it are not analysed, but they are still blurred."""
    col, original, boxes, labels, rt = run_agent(tmp_path, broker, camera={"roi": roi} if roi else {})
    try:
        events = col.wait_on("/camera/door/event", 120)
        first_event_at = events[0].at
        wait_for(lambda: any(m.at > first_event_at + 0.5 for m in col.on("/camera/door/preview")), 30,
                 what="previews after the first event")
    finally:
        rt.stop()
    col.stop()
    docs = [validate("event", m.payload) for m in col.on("/camera/door/event")]
    violators = {i for i, b in enumerate(boxes) for d in docs if iou(b, d["box"]) > 0.3}
    bystanders = [i for i in range(len(boxes)) if i not in violators]
    assert 1 in violators, f"the unmasked face was not reported: {docs}"
    assert bystanders, "every face was reported as a violation; nothing to check"
    figures = []
    for d in docs:
        snap = next(m for m in col.matching("/snapshot/") if m.topic == d["snapshot"])
        img = decode(snap.payload)
        cx1, cy1, cx2, cy2 = context_region(d["box"], W, H)
        assert img.shape[:2] == (cy2 - cy1, cx2 - cx1)  # not scaled: pixels compare one to one
        for i in bystanders:
            x1, y1, x2, y2 = inner(boxes[i])
            if x1 < cx1 or y1 < cy1 or x2 > cx2 or y2 > cy2:
                continue  # outside this snapshot's crop
            before, after = detail(region(original, boxes[i])), detail(region(img, boxes[i], (cx1, cy1)))
            figures.append(("snapshot", i, before, after))
            assert after < 0.1 * before, f"bystander {i} not blurred in the snapshot: {after:.1f} vs {before:.1f}"
        own = [i for i in violators if iou(boxes[i], d["box"]) > 0.3][0]
        before, after = detail(region(original, boxes[own])), detail(region(img, boxes[own], (cx1, cy1)))
        assert after > 0.4 * before, f"the violator is blurred in blur_bystanders mode: {after:.1f} vs {before:.1f}"
    assert any(f[0] == "snapshot" for f in figures), "no bystander inside any snapshot"
    previews = col.on("/camera/door/preview")
    assert previews and all(not m.retain for m in previews)
    for m in previews:
        img = decode(m.payload)
        assert img.shape[:2] == (H, W)
        for i in bystanders:
            before, after = detail(region(original, boxes[i], shrink=0.25)), detail(region(img, boxes[i], shrink=0.25))
            figures.append(("preview", i, before, after))
            assert after < 0.1 * before, f"bystander {i} not blurred in a preview: {after:.1f} vs {before:.1f}"
    late = [m for m in previews if m.at > first_event_at + 0.5]
    shown = [detail(region(decode(m.payload), boxes[1], shrink=0.25)) / detail(region(original, boxes[1], shrink=0.25))
             for m in late]
    assert max(shown) > 0.4, f"the decided violator should be visible in previews after its event: {shown}"
    print("detail before -> after:", [(k, i, round(b), round(a, 1)) for k, i, b, a in figures[:8]])


@real
def test_no_images_camera_sends_no_jpeg_bytes_at_all(tmp_path: Path, broker: Mosquitto) -> None:
    col, _original, _boxes, _labels, rt = run_agent(tmp_path, broker, camera={"privacy_mode": "no_images"})
    try:
        events = col.wait_on("/camera/door/event", 120)
        col.wait_on("/camera/door/stats", 30, count=2)
        time.sleep(1.0)
    finally:
        rt.stop()
    col.wait_on("/available", 10, predicate=lambda m: m.payload == b"stopped")
    col.stop()
    assert events and all(validate("event", m.payload)["snapshot"] is None for m in events)
    assert len(col.messages) > 5
    with_jpeg = [m.topic for m in col.messages if SOI in m.payload]
    assert with_jpeg == [], f"JPEG bytes left the device: {with_jpeg}"
    assert not col.matching("/preview") and not col.matching("/snapshot/")


# ------------------------------------------------------------------ unit: modes and the image functions
@pytest.fixture(scope="module")
def still():  # noqa: ANN201
    frame, boxes, _ = compose()
    return frame, boxes


def test_blur_all_blurs_the_violator_too(still) -> None:  # noqa: ANN001
    frame, boxes = still
    for blur_violator, expect_blurred in ((False, False), (True, True)):
        img = decode(violation_snapshot(frame, boxes[1], [boxes[0], boxes[2]], SnapshotConfig(max_width=3840),
                                        blur_violator=blur_violator))
        cx1, cy1, _, _ = context_region(boxes[1], W, H)
        ratio = detail(region(img, boxes[1], (cx1, cy1))) / detail(region(frame, boxes[1]))
        assert (ratio < 0.1) == expect_blurred, ratio


def test_preview_blurs_every_face_not_decided_a_violation(still) -> None:  # noqa: ANN001
    from edge_agent.privacy import Privacy, ViolatorTracks

    frame, boxes = still
    violators = ViolatorTracks()
    violators.update([7], in_view=[5, 7, 9])
    flags = Privacy("blur_bystanders").preview_blur([5, 7, 9], violators)
    assert flags == [True, False, True]
    assert Privacy("blur_all").preview_blur([5, 7, 9], violators) == [True, True, True]
    img = decode(preview_jpeg(frame, boxes, [None] * 3, PreviewConfig(width=1920), flags))
    ratios = [detail(region(img, b, shrink=0.25)) / detail(region(frame, b, shrink=0.25)) for b in boxes]
    assert ratios[0] < 0.1 and ratios[2] < 0.1 and ratios[1] > 0.4, ratios
    violators.update([], in_view=[5, 9])  # the violator left: a new person at track 7 would be blurred again
    assert 7 not in violators.ids


def test_camera_privacy_mode_overrides_the_site_and_bad_values_are_named() -> None:
    from edge_agent.config import ConfigError

    cfg = parse_config({"privacy": {"mode": "blur_all"}, "cameras": [
        {"name": "a", "source": {"type": "demo"}}, {"name": "b", "source": {"type": "demo"}, "privacy_mode": "no_images"}]})
    assert [cfg.privacy_mode(c) for c in cfg.cameras] == ["blur_all", "no_images"]
    assert parse_config({}).privacy.mode == "blur_bystanders"  # privacy by default
    with pytest.raises(ConfigError, match=r"privacy.mode: allowed values: 'blur_bystanders', 'blur_all' or 'no_images'"):
        parse_config({"privacy": {"mode": "off"}})
    with pytest.raises(ConfigError, match="blur_other_faces was removed"):
        parse_config({"snapshots": {"blur_other_faces": False}})
