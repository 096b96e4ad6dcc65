"""Detection in motion regions (Frigate's "where"): the plan, and that the real CenterFace finds in a region
the faces it finds there in the whole frame (the gate-on/off recall comparison is tests/test_motion_gate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.config import CameraConfig, parse_config
from edge_agent.core.detections import iou_matrix
from edge_agent.core.frames import Frame
from edge_agent.pipeline import FramePipeline
from edge_agent.regions import plan_regions
from edge_agent.sources.demo import DemoScene


def test_plan_widens_merges_and_falls_back_to_the_whole_frame() -> None:
    assert plan_regions([], 1000, 500, 0.05, 0.7) is None  # nothing to look at: the caller decides (whole frame)
    one = plan_regions([[100, 100, 200, 200]], 1000, 500, 0.05, 0.7)
    assert one == [(50, 75, 250, 225)]
    two = plan_regions([[100, 100, 200, 200], [180, 150, 300, 300], [800, 0, 900, 100]], 1000, 500, 0.0, 0.7)
    assert two == [(100, 100, 300, 300), (800, 0, 900, 100)]  # overlapping ones merged, the far one apart
    assert plan_regions([[0, 0, 10, 10]], 100, 100, 0.5, 1.0) == [(0, 0, 60, 60)]  # clipped to the frame
    assert plan_regions([[0, 0, 900, 400]], 1000, 500, 0.0, 0.7) is None  # too much of the frame: all of it


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    """config.yaml's detector (CenterFace, input_scale 0.5 for 720p) and the shipped classifier."""
    from pathlib import Path

    import yaml

    from edge_agent.classifier import Classifier
    from edge_agent.detectors import create_detector

    root = Path(__file__).resolve().parents[2]
    config = parse_config({"detector": yaml.safe_load((root / "config.yaml").read_text())["detector"]})
    return config, create_detector(config.detector), Classifier(config.classifier.model_card)


def _centred(b: np.ndarray, regions: list[tuple[int, int, int, int]]) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return any(r[0] <= cx < r[2] and r[1] <= cy < r[3] for r in regions)


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (640, 360)])
def test_a_region_gives_the_faces_the_whole_frame_gives_there(shipped, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    _, detector, _ = shipped
    scene = DemoScene(w, h)
    ious: list[float] = []
    for t in np.arange(2.0, 30.0, 1.5):
        frame = scene.render(float(t))
        full = detector.detect(frame)
        people = scene.people_at(float(t))
        if not people:
            continue
        regions = plan_regions([p.box for p in people], w, h, 0.03, 1.0)
        assert regions is not None
        part = detector.detect_regions(frame, regions)
        inside = [i for i, b in enumerate(full.xyxy) if _centred(b, regions)]
        part = part[np.array([_centred(b, regions) for b in part.xyxy], bool)] if len(part) else part
        assert len(part) == len(inside), f"t={t}: {len(part)} faces in the regions, {len(inside)} in the frame there"
        if inside:
            iou = iou_matrix(full.xyxy[inside], part.xyxy)
            best = iou.max(axis=1)
            assert best.min() >= 0.75, f"t={t}: not the same face (IoU {best})"
            moved = np.abs(full.landmarks[inside] - part.landmarks[iou.argmax(axis=1)]).max()
            assert moved < 0.25 * float((full.xyxy[inside, 2] - full.xyxy[inside, 0]).min()), "landmarks differ"
            ious += best.tolist()
    print(f"{w}x{h}: {len(ious)} faces, IoU region vs whole frame: median {np.median(ious):.3f}, min {min(ious):.3f}")
    assert len(ious) >= 10
    assert np.median(ious) >= 0.95, "a region must give (nearly) the whole frame's boxes"


def test_one_net_serves_every_input_size(shipped) -> None:  # type: ignore[no-untyped-def]
    """OpenCV 5 takes a new input size on the same net with the same outputs: crops of any size load no
    further copy of the network (each would be ~16 MB)."""
    import cv2

    from edge_agent.detectors.centerface import CenterFaceDetector

    if int(cv2.__version__.split(".")[0]) < 5:
        pytest.skip("OpenCV 4 keeps one net per input size")
    config, _, _ = shipped
    frame = DemoScene(1280, 720).render(5.0)
    det = CenterFaceDetector(config.detector)
    full = det.detect(frame)
    det.detect_regions(frame, [(100, 100, 500, 400), (700, 200, 1000, 700)])
    again = det.detect(frame)
    assert len(det._nets) == 1
    assert np.array_equal(full.xyxy, again.xyxy) and np.array_equal(full.score, again.score)


def test_the_pipeline_searches_regions_while_people_walk_by(shipped) -> None:  # type: ignore[no-untyped-def]
    """With people in view the gate runs the detector on every frame; with regions on it searches less of
    the frame, and finds the faces the whole-frame search finds."""
    config, detector, classifier = shipped
    scene = DemoScene(1280, 720, speed_px_s=1280 / 12.0)
    frames = [scene.render(i / 5) for i in range(40)]
    found = {}
    for regions in (False, True):
        cam = CameraConfig.model_validate({"name": "c", "source": {"type": "demo"}, "detect_fps": 5,
                                           "motion": {"regions": regions}})
        pipe = FramePipeline(config, cam, detector=detector, classifier=classifier)
        found[regions] = [pipe.process(Frame(f, i / 5)).faces.xyxy for i, f in enumerate(frames)]
        assert pipe.gate is not None
        if regions:
            assert pipe.gate.regional >= 0.5 * len(frames), "regions were not used"
        else:
            assert pipe.gate.regional == pipe.gate.regional and pipe.last_regions is None
    missing = sum(int((iou_matrix(a, b).max(axis=1) < 0.5).sum()) if len(b) else len(a)
                  for a, b in zip(found[False], found[True], strict=True))
    total = sum(len(a) for a in found[False])
    assert total >= 40 and missing == 0, f"{missing} of {total} faces missed in regions"


def test_a_frame_to_be_published_is_searched_whole_and_others_say_they_were_not(shipped) -> None:  # type: ignore[no-untyped-def]
    """Privacy: a preview must have every face found (to blur it). A regional frame says so in its result
    (the runtime publishes no preview of it), and the runtime's request for a whole-frame search is kept."""
    config, detector, classifier = shipped
    scene = DemoScene(1280, 720, speed_px_s=1280 / 12.0)
    cam = CameraConfig.model_validate({"name": "c", "source": {"type": "demo"}, "detect_fps": 5})
    pipe = FramePipeline(config, cam, detector=detector, classifier=classifier)
    results = []
    for i in range(20):
        if i in (10, 15):
            pipe.search_all_next = True
        results.append(pipe.process(Frame(scene.render(i / 5), i / 5)))
        assert results[-1].searched_all == (pipe.last_regions is None)
    assert results[10].searched_all and results[15].searched_all
    assert sum(not r.searched_all for r in results) >= 8, "regions were not used"


def test_faces_outside_the_roi_stay_in_the_searched_regions(shipped) -> None:  # type: ignore[no-untyped-def]
    """Faces outside the region of interest are not tracked but are blurred in every image: the regions must
    keep covering them, or a regional frame would lose their boxes. People standing still outside the ROI,
    something moving inside it."""
    config, detector, classifier = shipped
    still = DemoScene(1280, 720).render(5.0)
    cam = CameraConfig.model_validate({"name": "c", "source": {"type": "demo"}, "detect_fps": 5,
                                       "roi": [[0.0, 0.0], [0.25, 0.0], [0.25, 1.0], [0.0, 1.0]]})
    pipe = FramePipeline(config, cam, detector=detector, classifier=classifier)
    first = pipe.process(Frame(still, 0.0))
    assert len(first.outside_roi) >= 2, "the scene should have still faces outside the ROI"
    regional = 0
    for i in range(1, 15):
        frame = still.copy()
        x = 20 + 15 * i  # a box moving inside the ROI: motion, so the gate runs the detector
        frame[300:400, x:x + 60] = 255
        result = pipe.process(Frame(frame, i / 5))
        if pipe.last_regions is not None:
            regional += 1
            assert len(result.outside_roi) == len(first.outside_roi), f"frame {i}: faces outside the ROI lost"
    assert regional >= 5, "regions were not used"


def test_regions_follow_the_cameras_analysis_size(shipped) -> None:  # type: ignore[no-untyped-def]
    """A camera resized before analysis (width/height): regions are planned in frame pixels and searched in
    the resized frame; the faces match the whole-frame search's."""
    config, detector, classifier = shipped
    scene = DemoScene(1280, 720, speed_px_s=1280 / 12.0)
    found = {}
    for regions in (False, True):
        cam = CameraConfig.model_validate({"name": "c", "source": {"type": "demo"}, "detect_fps": 5,
                                           "width": 960, "motion": {"regions": regions}})
        pipe = FramePipeline(config, cam, detector=detector, classifier=classifier)
        found[regions] = [pipe.process(Frame(scene.render(i / 5), i / 5)).faces.xyxy for i in range(25)]
    pairs = [(a, b) for a, b in zip(found[False], found[True], strict=True) if len(a)]
    assert len(pairs) >= 15
    for a, b in pairs:
        assert len(b) and iou_matrix(a, b).max(axis=1).min() >= 0.6


def test_onnxruntime_searches_regions_like_opencv(shipped) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    from edge_agent.detectors.centerface import CenterFaceDetector

    config, detector, _ = shipped
    ort = CenterFaceDetector(config.detector.model_copy(update={"runtime": "onnxruntime"}))
    frame = DemoScene(1280, 720).render(8.0)
    regions = [(600, 100, 1100, 500), (100, 300, 500, 700)]
    a, b = detector.detect_regions(frame, regions), ort.detect_regions(frame, regions)
    assert len(a) == len(b) >= 1
    assert iou_matrix(a.xyxy, b.xyxy).max(axis=1).min() > 0.99
