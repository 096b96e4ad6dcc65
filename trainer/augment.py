"""Augmentation for entrance cameras, on RGB uint8 crops (NumPy + OpenCV, no TensorFlow).

Training samples start from the wider ``context`` crop: a jittered square (scale, shift) is cut and resized
to the model size, then flips, CCTV-size downsampling, blur, JPEG artefacts, colour shifts and low light
(gamma, gain, sensor noise) are applied at random.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from trainer.options import AugmentOptions

Image = npt.NDArray[np.uint8]


def jitter_crop(context: Image, out_size: int, inner: float, scale: float, shift: float, rng: np.random.Generator) -> Image:
    """Cut a square of side ``inner * C * (1 +- scale)`` around the centre (moved by +- shift) and resize."""
    c = context.shape[0]
    side = inner * c * (1.0 + rng.uniform(-scale, scale))
    side = float(np.clip(side, 4.0, c))
    cx = c / 2 + rng.uniform(-shift, shift) * side
    cy = c / 2 + rng.uniform(-shift, shift) * side
    x1 = int(round(np.clip(cx - side / 2, 0, c - side)))
    y1 = int(round(np.clip(cy - side / 2, 0, c - side)))
    s = int(round(side))
    region = context[y1:y1 + s, x1:x1 + s]
    interp = cv2.INTER_AREA if s > out_size else cv2.INTER_LINEAR
    return cv2.resize(region, (out_size, out_size), interpolation=interp)


def center_crop(context: Image, out_size: int, inner: float) -> Image:
    c = context.shape[0]
    s = int(round(inner * c))
    o = (c - s) // 2
    return cv2.resize(context[o:o + s, o:o + s], (out_size, out_size), interpolation=cv2.INTER_AREA)


def downsample(img: Image, px: int) -> Image:
    """Shrink to ``px`` and back: what a face a few metres from a CCTV camera looks like."""
    size = img.shape[0]
    small = cv2.resize(img, (px, px), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


def jpeg(img: Image, quality: int) -> Image:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else img


def darken(img: Image, gamma: float, gain: float, noise_sigma: float, rng: np.random.Generator) -> Image:
    """Low light: gamma > 1 darkens shadows, gain < 1 dims, then Gaussian sensor noise."""
    x = (img.astype(np.float32) / 255.0) ** gamma * gain * 255.0
    if noise_sigma > 0:
        x += rng.normal(0.0, noise_sigma, x.shape).astype(np.float32)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def color_jitter(img: Image, rng: np.random.Generator) -> Image:
    x = img.astype(np.float32)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.7, 1.3) + mean  # contrast
    gray = x.mean(axis=2, keepdims=True)
    x = gray + (x - gray) * rng.uniform(0.6, 1.4)  # saturation
    x *= rng.uniform(0.9, 1.1, size=(1, 1, 3))  # white balance
    return np.clip(x, 0, 255).astype(np.uint8)


def augment(context: Image, out_size: int, inner: float, opts: AugmentOptions, rng: np.random.Generator,
            face_px: float | None = None) -> Image:
    """One random training view of a face; ``face_px`` (its size in the photo) bounds the downsampling."""
    img = jitter_crop(context, out_size, inner, opts.scale_jitter, opts.shift_jitter, rng)
    if rng.random() < opts.flip:
        img = img[:, ::-1]
    top = min(out_size // 2, int(face_px * 0.8)) if face_px else out_size // 2
    if top > opts.downsample_min_px and rng.random() < opts.downsample:  # only faces seen larger than CCTV size
        img = downsample(img, int(rng.integers(opts.downsample_min_px, top + 1)))
    if rng.random() < opts.blur:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.4)))
    if rng.random() < opts.color:
        img = color_jitter(img, rng)
    if rng.random() < opts.low_light:
        img = darken(img, float(rng.uniform(1.2, 2.5)), float(rng.uniform(0.25, 0.8)), float(rng.uniform(0, 8)), rng)
    if rng.random() < opts.jpeg:
        img = jpeg(np.ascontiguousarray(img), int(rng.integers(15, 76)))
    return np.ascontiguousarray(img)


def darkened_copy(images: Image, seed: int = 0) -> Image:
    """The fixed 'dark scene' version of an evaluation set: gamma 2.0, gain 0.45, noise sigma 4."""
    rng = np.random.default_rng(seed)
    return np.stack([darken(img, 2.0, 0.45, 4.0, rng) for img in images]) if len(images) else images.copy()
