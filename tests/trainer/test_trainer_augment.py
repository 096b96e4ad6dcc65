"""Augmentation: right shape and type, seeded, and the low-light transform really darkens."""

import numpy as np

from trainer.augment import augment, darkened_copy, downsample, jitter_crop
from trainer.options import AugmentOptions


def _face(size: int = 89) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, (size, size, 3), dtype=np.uint8)


def test_augment_shape_type_and_seed():
    ctx = _face()
    a = augment(ctx, 64, 64 / 89, AugmentOptions(), np.random.default_rng(1))
    b = augment(ctx, 64, 64 / 89, AugmentOptions(), np.random.default_rng(1))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert (a == b).all()


def test_jitter_without_jitter_is_the_centre():
    ctx = np.zeros((90, 90, 3), np.uint8)
    ctx[15:75, 15:75] = 255
    out = jitter_crop(ctx, 60, 60 / 90, 0.0, 0.0, np.random.default_rng(0))
    assert out.min() == 255


def test_darkened_copy_is_darker_and_deterministic():
    faces = np.stack([_face(64) for _ in range(3)])
    dark = darkened_copy(faces, seed=4)
    assert dark.shape == faces.shape
    assert dark.mean() < 0.5 * faces.mean()
    assert (dark == darkened_copy(faces, seed=4)).all()


def test_downsample_loses_detail():
    img = _face(64)
    assert np.abs(downsample(img, 12).astype(int) - img).mean() > 5
