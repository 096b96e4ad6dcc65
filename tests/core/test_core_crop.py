"""Core: the one crop function and the Faces container."""

import numpy as np
import pytest

from edge_agent.core.crop import CropSpec, crop_face, crop_faces
from edge_agent.core.detections import Faces, iou_matrix
from edge_agent.imaging import resize_square


def _frame(h=100, w=200):
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 0] = 255  # pure blue in BGR
    return f


def test_crop_is_rgb_square_and_sized():
    out = crop_face(_frame(), (50, 20, 70, 60), CropSpec(size=32, margin=0.0), resize_square)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert (out[..., 2] == 255).all() and (out[..., 0] == 0).all()  # BGR blue became RGB blue


def test_square_box_margin_and_centre():
    spec = CropSpec(size=32, margin=0.25)
    x1, y1, x2, y2 = spec.square_box((10, 10, 30, 50))  # 20x40 box, centre (20, 30)
    assert x2 - x1 == y2 - y1 == 60  # longer side 40 * (1 + 2*0.25)
    assert (x1 + x2) / 2 == 20 and (y1 + y2) / 2 == 30


def test_crop_at_edge_replicates_border():
    f = np.zeros((50, 50, 3), np.uint8)
    f[:, :5] = 200  # bright left edge column band
    out = crop_face(f, (0, 10, 20, 30), CropSpec(size=40, margin=0.5), resize_square)
    # The part of the square left of the frame is filled with the edge colour, not black.
    assert out[20, 0].tolist() == [200, 200, 200]


def test_crop_outside_frame_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        crop_face(_frame(), (500, 500, 520, 520), CropSpec(), resize_square)


@pytest.mark.parametrize(("size", "margin"), [(8, 0.1), (1024, 0.1), (64, -0.1), (64, 1.5)])
def test_cropspec_validates(size, margin):
    with pytest.raises(ValueError):
        CropSpec(size=size, margin=margin)


def test_crop_faces_batch_matches_single():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 50], [100, 60, 150, 110]], np.float32)
    spec = CropSpec(size=24, margin=0.1)
    batch = crop_faces(f, boxes, spec, resize_square)
    assert batch.shape == (2, 24, 24, 3)
    assert np.array_equal(batch[1], crop_face(f, boxes[1], spec, resize_square))
    assert crop_faces(f, np.empty((0, 4)), spec, resize_square).shape == (0, 24, 24, 3)


def test_faces_shapes_and_mask_filtering():
    faces = Faces(np.array([[0, 0, 10, 10], [5, 5, 50, 50]]), np.array([0.9, 0.3]))
    assert len(faces) == 2 and faces.class_id.tolist() == [-1, -1]
    strong = faces[faces.score > 0.5]
    assert len(strong) == 1 and strong.width.tolist() == [10.0]
    classified = faces.with_classes([1, 0], [0.8, 0.7])
    assert classified[np.array([False, True])].class_id.tolist() == [0]
    with pytest.raises(ValueError, match="score"):
        Faces(np.zeros((2, 4)), np.zeros(3))
    assert len(Faces.empty()) == 0


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]], rtol=1e-6)
    assert iou_matrix(np.empty((0, 4)), b).shape == (0, 3)


def _old_cv2_crop(frame_bgr, box, spec):
    """The crop as it was before the core dropped cv2 (copyMakeBorder + resize + cvtColor), for comparison."""
    import cv2

    h, w = frame_bgr.shape[:2]
    sx1, sy1, sx2, sy2 = spec.square_box(box)
    cx1, cy1, cx2, cy2 = max(sx1, 0), max(sy1, 0), min(sx2, w), min(sy2, h)
    region = frame_bgr[cy1:cy2, cx1:cx2]
    pad = (cy1 - sy1, sy2 - cy2, cx1 - sx1, sx2 - cx2)
    if any(pad):
        region = cv2.copyMakeBorder(region, *pad, borderType=cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if region.shape[0] > spec.size else cv2.INTER_LINEAR
    return cv2.cvtColor(cv2.resize(region, (spec.size, spec.size), interpolation=interp), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_core_crop_is_identical_to_the_cv2_crop(seed):
    """Same bytes as before: inside the frame, across every edge (padding), shrinking and enlarging."""
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    compared = padded = 0
    for _ in range(40):
        x1, y1 = rng.uniform(-30, 120), rng.uniform(-30, 80)
        side = rng.uniform(2, 90)
        box = (x1, y1, x1 + side * rng.uniform(0.6, 1.4), y1 + side)
        spec = CropSpec(size=int(rng.choice([16, 32, 64, 96])), margin=float(rng.uniform(0, 0.5)))
        try:
            got = crop_face(f, box, spec, resize_square)
        except ValueError:  # outside the frame: an error, as before
            continue
        assert np.array_equal(got, _old_cv2_crop(f, box, spec)), (box, spec)
        compared += 1
        sx1, sy1, sx2, sy2 = spec.square_box(box)
        padded += sx1 < 0 or sy1 < 0 or sx2 > 130 or sy2 > 90
    assert compared >= 25 and padded >= 5


def test_core_imports_no_image_library():
    import ast
    from pathlib import Path

    import edge_agent.core as core

    for path in Path(core.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"cv2", "PIL", "skimage"}, path.name
