"""Motion-gated detection misses nobody: the real detector and classifier on generated scenes (people after
a long idle period, dim light, slow walkers), gate on vs gate off, per person."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
import pytest

from edge_agent.config import CameraConfig, MotionConfig, parse_config
from edge_agent.core.detections import iou_matrix
from edge_agent.core.frames import Frame
from edge_agent.motion import MotionDetector, MotionGate
from edge_agent.pipeline import FramePipeline
from edge_agent.sources.demo import DemoScene

W, H, FPS = 640, 360, 5.0
Render = Callable[[float], np.ndarray]


def _camera(gate: bool) -> CameraConfig:
    return CameraConfig.model_validate({"name": "door", "source": {"type": "demo"}, "detect_fps": FPS,
                                        "motion": {"enabled": gate}})


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    from edge_agent.classifier import Classifier
    from edge_agent.detectors import create_detector

    config = parse_config({})
    return config, create_detector(config.detector), Classifier(config.classifier.model_card)


def _run(models, render: Render, truth: Callable[[float], list], seconds: float, gate: bool):  # type: ignore[no-untyped-def]
    """Per person: the verdict decided for them (person id -> label), and the pipeline (for its gate).

    A track belongs to the person its faces overlapped most often over its life (a decision may come while
    the face is still entering, before the ground truth counts the person as in view)."""
    config, detector, classifier = models
    pipe = FramePipeline(config, _camera(gate), detector=detector, classifier=classifier)
    owner: dict[int, Counter[int]] = defaultdict(Counter)
    verdicts: dict[int, str] = {}
    for i in range(int(seconds * FPS)):
        t = i / FPS
        result = pipe.process(Frame(render(t), t))
        people = truth(t)
        if people and len(result.faces):
            iou = iou_matrix(result.faces.xyxy, np.array([p.box for p in people], np.float32))
            for row, track in enumerate(result.track_ids):
                if iou[row].max() >= 0.3:
                    owner[track][people[int(iou[row].argmax())].person] += 1
        for d in result.decisions:
            verdicts[d.track_id] = d.verdict
    decided: dict[int, str] = {}
    for track, verdict in verdicts.items():
        if owner[track]:
            decided.setdefault(owner[track].most_common(1)[0][0], verdict)
    return decided, pipe


def _people_in_view(truth: Callable[[float], list], seconds: float, min_s: float = 3.0) -> set[int]:
    """People fully in view for at least ``min_s`` seconds of the clip."""
    frames: dict[int, int] = {}
    for i in range(int(seconds * FPS)):
        for p in truth(i / FPS):
            frames[p.person] = frames.get(p.person, 0) + 1
    return {k for k, n in frames.items() if n >= min_s * FPS}


def _after_idle(scene: DemoScene, idle_s: float) -> tuple[Render, Callable[[float], list]]:
    """An empty corridor for ``idle_s`` seconds, then the scene from its start (people walk in)."""
    empty = scene.render(-1e6)  # nobody in view long before the first person
    def render(t: float) -> np.ndarray:
        return empty if t < idle_s else scene.render(t - idle_s)
    def truth(t: float) -> list:
        return [] if t < idle_s else scene.people_at(t - idle_s)
    return render, truth


def _dim(render: Render, gain: float = 0.3, noise: float = 3.0) -> Render:
    rng = np.random.default_rng(7)
    def out(t: float) -> np.ndarray:
        img = render(t).astype(np.float32) * gain + rng.normal(0, noise, (H, W, 3))
        return np.clip(img, 0, 255).astype(np.uint8)
    return out


def _scenarios() -> dict[str, tuple[Render, Callable[[float], list], float, float]]:
    """name -> (render, truth, seconds, idle seconds before the first person)."""
    walk = DemoScene(W, H, speed_px_s=48.0)
    idle_r, idle_t = _after_idle(walk, 60.0)
    dim_r, dim_t = _after_idle(DemoScene(W, H, speed_px_s=48.0), 20.0)
    slow = DemoScene(W, H, speed_px_s=8.0)
    slow_r, slow_t = _after_idle(slow, 20.0)
    return {
        "people after 60 s idle": (idle_r, idle_t, 95.0, 60.0),
        "dim light": (_dim(dim_r), dim_t, 55.0, 20.0),
        "slow walkers (8 px/s)": (slow_r, slow_t, 80.0, 20.0),
    }


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(_scenarios()))
def test_the_gate_misses_nobody(models, name: str) -> None:  # type: ignore[no-untyped-def]
    render, truth, seconds, idle_s = _scenarios()[name]
    off, _ = _run(models, render, truth, seconds, gate=False)
    on, pipe = _run(models, render, truth, seconds, gate=True)
    expected = _people_in_view(truth, seconds)
    print(f"{name}: {len(expected)} people in view; gate off decided {off}; gate on decided {on}; "
          f"detector ran on {pipe.gate.detected} of {pipe.gate.detected + pipe.gate.skipped} frames, "
          f"{pipe.gate.regional} of them on motion regions only")
    assert expected, "the scene has nobody to decide"
    assert len(set(off) & expected) >= 0.8 * len(expected), "the detector itself should decide most people"
    for person, verdict in off.items():  # every person the ungated agent decides, the gated one decides alike
        assert on.get(person) == verdict, f"person {person}: gate off {verdict}, gate on {on.get(person)}"
    idle_frames = int(idle_s * FPS)
    assert pipe.gate.skipped >= 0.7 * idle_frames, "an idle camera must not run the detector on every frame"
    assert pipe.gate.regional > 0, "motion regions (on by default) were never used"


def _cfg(**kw: object) -> MotionConfig:
    return MotionConfig.model_validate(kw)


def test_motion_detector_finds_a_moving_face_and_ignores_noise() -> None:
    scene = DemoScene(W, H, speed_px_s=48.0)
    empty = scene.render(-1e6)
    rng = np.random.default_rng(1)
    det = MotionDetector(_cfg())
    det.detect(empty)
    for _ in range(20):  # sensor noise only
        noisy = np.clip(empty.astype(np.float32) + rng.normal(0, 3, empty.shape), 0, 255).astype(np.uint8)
        assert not det.detect(noisy).moving
    t = next(t for t in np.arange(0, 30, 0.2) if scene.people_at(float(t)))
    motion = det.detect(scene.render(float(t)))
    assert motion.moving and len(motion.boxes)
    person = scene.people_at(float(t))[0].box
    assert iou_matrix(motion.boxes, np.array([person], np.float32)).max() > 0


def test_a_lighting_change_runs_the_detector_and_resets() -> None:
    frame = DemoScene(W, H).render(-1e6)
    det = MotionDetector(_cfg())
    det.detect(frame)
    assert not det.detect(frame).moving
    darker = (frame * 0.5).astype(np.uint8)
    assert det.detect(darker).lighting_change
    assert not det.detect(darker).moving  # the new light is the new background


@pytest.mark.parametrize(("moving", "live", "since", "run"), [
    (False, False, 1.0, False),
    (True, False, 1.0, True),
    (False, True, 1.0, True),   # a person standing still is still analysed
    (False, False, 5.0, True),  # refresh_s
])
def test_gate_policy(moving: bool, live: bool, since: float, run: bool) -> None:
    frame = DemoScene(W, H).render(-1e6)
    gate = MotionGate(_cfg(refresh_s=5.0))
    assert gate.should_detect(frame, 0.0, False)  # the first frame is always looked at
    assert not gate.should_detect(frame, 0.2, False)
    shown = frame.copy()
    if moving:
        shown[100:200, 100:200] = 255 - shown[100:200, 100:200]
    assert gate.should_detect(shown, since, live) is run


def test_a_gated_frame_is_marked_so_no_image_of_it_leaves_the_device() -> None:
    """With nothing moving and nobody tracked the detector is skipped: the result says so (the runtime then
    publishes no preview of that frame: it has no face boxes to blur)."""
    from helpers.fakes import FakeClassifier

    config = parse_config({"detector": {"type": "fake", "boxes": []}})
    pipe = FramePipeline(config, _camera(True), classifier=FakeClassifier())  # type: ignore[arg-type]
    frame = DemoScene(W, H).render(-1e6)
    assert pipe.process(Frame(frame, 0.0)).detected  # the first frame is always looked at
    assert not pipe.process(Frame(frame, 0.2)).detected
    assert pipe.process(Frame(frame, 5.2)).detected  # refresh_s
