"""Synthetic masks on unmasked training faces: where they are drawn, what they are labelled, what they come from."""

import numpy as np
import pytest

from trainer.augment import center_crop
from trainer.dataset import FaceSet
from trainer.synthetic import draw_mask, synthetic_masked, transplant_mask

C = 90  # context crop side
FACE = C / 1.8  # face box side inside it (context margin 0.4)
TOP = C / 2 - FACE / 2


def _rows_changed(before, after):
    return np.abs(after.astype(int) - before.astype(int)).sum(axis=(1, 2)) > 0


@pytest.mark.parametrize("seed", range(20))
def test_mask_incorrect_leaves_the_nose_visible_and_with_mask_covers_it(seed):
    img = np.full((C, C, 3), (210, 160, 130), np.uint8)  # skin-like: no mask colour is close
    img[::2] = (200, 150, 125)  # some texture, so any change shows
    rows_incorrect = _rows_changed(img, draw_mask(img, FACE, True, np.random.default_rng(seed)))
    rows_with = _rows_changed(img, draw_mask(img, FACE, False, np.random.default_rng(seed)))
    nose_row = int(TOP + 0.55 * FACE)  # the nose tip lies 55-62% down the face box
    chin_row = int(TOP + 0.93 * FACE)  # every mask reaches from at most 0.88 down to at least 0.97
    eyes_row = int(TOP + 0.3 * FACE)
    assert rows_incorrect[chin_row] and rows_with[chin_row]
    # the ear loops reach up the sides, so look at the middle columns for the nose
    mid = slice(int(C / 2 - 0.15 * FACE), int(C / 2 + 0.15 * FACE))
    nose_incorrect = draw_mask(img, FACE, True, np.random.default_rng(seed))[nose_row - 1, mid]
    nose_with = draw_mask(img, FACE, False, np.random.default_rng(seed))[nose_row - 1, mid]
    np.testing.assert_array_equal(nose_incorrect, img[nose_row - 1, mid])
    assert np.abs(nose_with.astype(int) - img[nose_row - 1, mid].astype(int)).mean() > 8
    np.testing.assert_array_equal(draw_mask(img, FACE, False, np.random.default_rng(seed))[eyes_row, mid],
                                  img[eyes_row, mid])


@pytest.mark.parametrize("seed", range(20))
def test_a_transplanted_mask_is_the_donors_moved_under_the_nose_or_kept_in_place(seed):
    skin = np.full((C, C, 3), (210, 160, 130), np.uint8)
    donor = skin.copy()
    mask_top = int(TOP + 0.47 * FACE)  # the donor's mask: blue from just under the bridge of the nose down
    donor[mask_top:] = (60, 120, 230)
    nose_row = int(TOP + 0.58 * FACE)
    mid = slice(int(C / 2 - 0.1 * FACE), int(C / 2 + 0.1 * FACE))
    chin_row = int(TOP + 0.95 * FACE)

    def blue(img, row):
        return img[row, mid, 2].mean() - img[row, mid, 0].mean()

    moved = transplant_mask(skin, donor, FACE, True, np.random.default_rng(seed))
    kept = transplant_mask(skin, donor, FACE, False, np.random.default_rng(seed))
    np.testing.assert_array_equal(moved[:nose_row + 1], skin[:nose_row + 1])  # nose and everything above: the face's own
    assert blue(moved, chin_row) > 100  # the mask's colour lies on the chin
    assert blue(kept, nose_row) > 100 and blue(kept, chin_row) > 100  # in place it covers the nose too
    np.testing.assert_array_equal(kept[:int(TOP + 0.4 * FACE)], skin[:int(TOP + 0.4 * FACE)])  # eyes untouched


@pytest.mark.parametrize("seed", range(20))
def test_a_pulled_down_mask_bunches_up_above_the_chin_instead_of_sliding_off_the_face(seed):
    skin = np.full((C, C, 3), (210, 160, 130), np.uint8)
    donor = skin.copy()
    donor[int(TOP + 0.47 * FACE):] = (60, 120, 230)  # a mask from under the bridge of the nose to below the crop
    moved = transplant_mask(skin, donor, FACE, True, np.random.default_rng(seed))
    below_chin = int(np.ceil(TOP + 1.15 * FACE))  # the moved mask ends at most 1.1 face heights down (+ feather)
    np.testing.assert_array_equal(moved[below_chin:], skin[below_chin:])
    mid = slice(int(C / 2 - 0.1 * FACE), int(C / 2 + 0.1 * FACE))
    assert (moved[int(TOP + 0.97 * FACE), mid, 2].astype(int) - moved[int(TOP + 0.97 * FACE), mid, 0]).mean() > 100


def test_transplanted_masks_come_from_with_mask_faces():
    faces, inner = _faces(["without_mask", "with_mask", "without_mask"])
    faces.context[1] = 0  # the only donor is black
    out = synthetic_masked(faces, 6, 64, inner, 0.4, seed=2, transplant=1.0)
    assert len(out) == 12 and set(out.names) <= {"img0.png", "img2.png"}
    face_rows = slice(int(TOP + 0.9 * FACE), int(TOP + FACE))
    for label, ctx in zip(out.labels, out.context, strict=True):  # the black donor's mask covers the chin of each
        assert ctx[face_rows, C // 2 - 3:C // 2 + 3].mean() < faces.context[0][face_rows].mean() * 0.5, label


def _faces(labels):
    n = len(labels)
    rng = np.random.default_rng(0)
    context = rng.integers(0, 255, (n, C, C, 3), dtype=np.uint8)
    inner = 64 / C
    exact = np.stack([center_crop(c, 64, inner) for c in context])
    return FaceSet(exact, context, np.array(labels), np.array([f"g{i}" for i in range(n)]),
                   np.array(["voc"] * n), np.array([f"img{i}.png" for i in range(n)]), np.full(n, 30.0, np.float32)), inner


def test_synthetic_faces_come_from_unmasked_training_faces_in_equal_numbers():
    faces, inner = _faces(["without_mask", "with_mask", "without_mask", "mask_incorrect", "without_mask"])
    out = synthetic_masked(faces, 7, 64, inner, 0.4, seed=1)
    assert len(out) == 14
    assert (out.labels == "mask_incorrect").sum() == 7 and (out.labels == "with_mask").sum() == 7
    assert set(out.sources) == {"synthetic"}
    assert set(out.names) <= {"img0.png", "img2.png", "img4.png"}  # only the without_mask ones
    assert all(g.startswith("synthetic:g") for g in out.groups)
    for e, c in zip(out.exact, out.context, strict=True):  # exact crop = centre of the drawn context, as for real faces
        np.testing.assert_array_equal(e, center_crop(c, 64, inner))
    again = synthetic_masked(faces, 7, 64, inner, 0.4, seed=1)
    np.testing.assert_array_equal(again.context, out.context)  # seeded


def test_no_synthetic_faces_without_unmasked_ones_or_when_off():
    faces, inner = _faces(["with_mask", "mask_incorrect"])
    assert len(synthetic_masked(faces, 5, 64, inner, 0.4, seed=1)) == 0
    faces, inner = _faces(["without_mask"])
    assert len(synthetic_masked(faces, 0, 64, inner, 0.4, seed=1)) == 0
