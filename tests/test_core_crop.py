"""Core: the one crop function and the Faces container."""

import numpy as np
import pytest

from edge_agent.core.crop import CropSpec, crop_face, crop_faces
from edge_agent.core.detections import Faces, iou_matrix


def _frame(h=100, w=200):
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 0] = 255  # pure blue in BGR
    return f


def test_crop_is_rgb_square_and_sized():
    out = crop_face(_frame(), (50, 20, 70, 60), CropSpec(size=32, margin=0.0))
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
    out = crop_face(f, (0, 10, 20, 30), CropSpec(size=40, margin=0.5))
    # The part of the square left of the frame is filled with the edge colour, not black.
    assert out[20, 0].tolist() == [200, 200, 200]


def test_crop_outside_frame_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        crop_face(_frame(), (500, 500, 520, 520), CropSpec())


@pytest.mark.parametrize(("size", "margin"), [(8, 0.1), (1024, 0.1), (64, -0.1), (64, 1.5)])
def test_cropspec_validates(size, margin):
    with pytest.raises(ValueError):
        CropSpec(size=size, margin=margin)


def test_crop_faces_batch_matches_single():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 50], [100, 60, 150, 110]], np.float32)
    spec = CropSpec(size=24, margin=0.1)
    batch = crop_faces(f, boxes, spec)
    assert batch.shape == (2, 24, 24, 3)
    assert np.array_equal(batch[1], crop_face(f, boxes[1], spec))
    assert crop_faces(f, np.empty((0, 4)), spec).shape == (0, 24, 24, 3)


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
