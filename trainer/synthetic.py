"""Synthetic masks drawn on unmasked training faces, for the rare ``mask_incorrect`` class.

The data sets hold 96 ``mask_incorrect`` faces in all (67 in the training split), too few for a model to learn
the common case at an entrance reliably: a mask pulled under the nose (without synthetic masks, every pretrained
run called the demo's under-nose masks ``with_mask``). Following the idea of
MaskTheFace (drawing masks on unmasked faces to make masked-face data), this module draws a mask on copies of
``without_mask`` training faces:

* below the nose (nose visible, mouth covered; 70%) or on the chin (30%): labelled ``mask_incorrect``;
* over nose and mouth: labelled ``with_mask`` - as many as the first kind, so that "a drawn mask" is no cue for
  either class.

Geometry comes from where a face sits in its crop (the box centre is the crop centre, ``face_side`` pixels of
the crop are the box): nose tip about 55-62% down the box, mouth about 75%, chin at the bottom, jittered per
face. Colours, pleats, ear loops, shading and noise vary. Only training faces are used; validation and test stay
real.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.core.labels import MASK_INCORRECT, WITH_MASK, WITHOUT_MASK
from trainer.augment import center_crop
from trainer.dataset import FaceSet

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

#: Mask colours (RGB): surgical blue, white, black, grey, pale pink, navy, light green.
COLOURS = ((150, 200, 235), (240, 240, 240), (30, 30, 35), (150, 150, 155), (235, 200, 205), (40, 50, 90),
           (185, 225, 200))


def draw_mask(img: Image, face_side: float, incorrect: bool, rng: np.random.Generator) -> Image:
    """A copy of the RGB crop ``img`` (face box of ``face_side`` px, centred) with a mask drawn on it."""
    out = img.copy()
    c = img.shape[0]
    h = face_side
    w = h * rng.uniform(0.78, 0.92)
    cx = c / 2 + rng.uniform(-0.03, 0.03) * h
    y0 = c / 2 - h / 2  # top of the face box
    nose = y0 + h * rng.uniform(0.55, 0.62)
    if not incorrect:
        top = y0 + h * rng.uniform(0.36, 0.46)  # over the bridge of the nose
    elif rng.random() < 0.7:
        top = nose + h * rng.uniform(0.02, 0.12)  # under the nose: nostrils show
    else:
        top = y0 + h * rng.uniform(0.78, 0.88)  # on the chin: mouth shows too
    bottom = y0 + h * rng.uniform(0.97, 1.06)
    left, right = cx - w / 2, cx + w / 2
    sag = rng.uniform(0.0, 0.12) * (bottom - top)
    pts = np.array([
        (left, top + 0.15 * (bottom - top)), (cx - 0.18 * w, top), (cx + 0.18 * w, top),
        (right, top + 0.15 * (bottom - top)), (right - 0.08 * w, bottom - 0.12 * (bottom - top)),
        (cx, bottom + sag * 0.3), (left + 0.08 * w, bottom - 0.12 * (bottom - top)),
    ])
    scale = 4  # draw at 4x and shrink: anti-aliased edges on small crops; pixels outside the mask stay as they were
    size = (c * scale, c * scale)
    poly = np.round(pts * scale).astype(np.int32)
    colour = np.array(COLOURS[int(rng.integers(len(COLOURS)))], np.float32) * rng.uniform(0.8, 1.1)
    layer = np.zeros((*size, 3), np.float32)
    cv2.fillPoly(layer, [poly], colour.tolist(), lineType=cv2.LINE_AA)
    cover = np.zeros(size, np.float32)
    cv2.fillPoly(cover, [poly], 1.0, lineType=cv2.LINE_AA)
    # shading: lit from above or one side, darker towards the chin
    yy, xx = np.mgrid[0:size[0], 0:size[1]].astype(np.float32) / size[0]
    layer *= (1.0 - rng.uniform(0.0, 0.35) * yy + rng.uniform(-0.15, 0.15) * (xx - 0.5))[..., None]
    dark = tuple(float(v) * 0.8 for v in colour)
    for k in (0.3, 0.5, 0.7) if rng.random() < 0.7 else ():  # pleats
        y = int((top + k * (bottom - top)) * scale)
        cv2.line(layer, (int((left + 0.06 * w) * scale), y), (int((right - 0.06 * w) * scale), y), dark, scale,
                 cv2.LINE_AA)
    if rng.random() < 0.8:  # ear loops
        loop = (235.0, 235.0, 235.0) if rng.random() < 0.7 else dark
        for side, d in ((left, -1), (right, 1)):
            p1 = (int(side * scale), int((top + 0.2 * (bottom - top)) * scale))
            p2 = (int((side + d * 0.1 * w) * scale), int((top - 0.15 * h) * scale))
            cv2.line(layer, p1, p2, loop, scale, cv2.LINE_AA)
            cv2.line(cover, p1, p2, 1.0, scale, cv2.LINE_AA)
    layer = cv2.resize(layer, (c, c), interpolation=cv2.INTER_AREA)
    coverage = np.clip(cv2.resize(cover, (c, c), interpolation=cv2.INTER_AREA), 0, 1)[..., None]
    layer = layer / np.maximum(coverage, 1e-3) * (coverage > 0)  # un-premultiply the shrunk colours at the edges
    alpha = coverage * rng.uniform(0.9, 1.0)  # opacity
    layer += rng.normal(0, rng.uniform(0, 4), layer.shape).astype(np.float32)
    blended = out.astype(np.float32) * (1 - alpha) + np.clip(layer, 0, 255) * alpha
    return np.ascontiguousarray(np.clip(np.round(blended), 0, 255).astype(np.uint8))


def transplant_mask(img: Image, donor: Image, face_side: float, incorrect: bool, rng: np.random.Generator) -> Image:
    """A copy of the RGB crop ``img`` with the real mask of ``donor`` (a ``with_mask`` crop of the same geometry:
    face box of ``face_side`` px, centred) pasted on it: at its own height (``incorrect`` False) or pulled down so
    that its top edge lies under the nose or on the chin (``incorrect`` True), squeezed vertically so that it still
    ends under the chin, the way a pulled-down mask bunches up. A soft matte, its top edge curved and the sides
    narrowing towards the chin, takes the mask and little else; the donor's brightness is matched to the face's."""
    c = img.shape[0]
    h = face_side
    cx, y0 = c / 2, c / 2 - h / 2
    if rng.random() < 0.5:
        donor = donor[:, ::-1]
    top = y0 + h * rng.uniform(0.40, 0.46)  # the donor's mask starts over the bridge of the nose
    bottom = y0 + h * rng.uniform(1.0, 1.06)
    if not incorrect:
        target = top
    elif rng.random() < 0.7:
        target = y0 + h * rng.uniform(0.62, 0.72)  # under the nose
    else:
        target = y0 + h * rng.uniform(0.80, 0.90)  # on the chin
    # a mask pulled down bunches up: its span from the bridge of the nose to the chin is squeezed into the span
    # from its new top edge to just under the chin (not slid down whole, which would cut it off at the crop's edge)
    new_bottom = bottom if not incorrect else y0 + h * rng.uniform(1.02, 1.1)
    squeeze = (new_bottom - target) / (bottom - top)
    yy, xx = np.mgrid[0:c, 0:c].astype(np.float32)
    t = np.clip((yy - top) / (bottom - top), 0, 1)
    half_w = h * rng.uniform(0.40, 0.46) * np.sqrt(1 - 0.55 * t ** 2)
    edge = top + rng.uniform(0.0, 0.08) * h * ((xx - cx) / (0.45 * h)) ** 2  # the top edge: highest in the middle
    matte = ((yy >= edge) & (yy <= bottom) & (np.abs(xx - cx) <= half_w)).astype(np.float32)
    matte = cv2.GaussianBlur(matte, (0, 0), max(0.5, 0.025 * h))
    matte[yy < edge] = 0  # the feather must not reach above the mask's edge (the nose stays the face's own)
    move = np.float32([[1, 0, 0], [0, squeeze, target - squeeze * top]])  # y' = target + squeeze * (y - top)
    moved = cv2.warpAffine(np.ascontiguousarray(donor), move, (c, c), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(matte, move, (c, c), flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    band = slice(int(y0 + 0.15 * h), int(y0 + 0.4 * h))  # forehead and eyes: skin lit like the rest of the face
    gain = float(np.clip((img[band].mean() + 1) / (donor[band].mean() + 1), 0.6, 1.6))
    blended = img.astype(np.float32) * (1 - alpha) + np.clip(moved.astype(np.float32) * gain, 0, 255) * alpha
    return np.ascontiguousarray(np.clip(np.round(blended), 0, 255).astype(np.uint8))


def synthetic_masked(train: FaceSet, per_class: int, exact_size: int, inner: float, context_margin: float,
                     seed: int, transplant: float = 0.0) -> FaceSet:
    """``per_class`` synthetic ``mask_incorrect`` and as many synthetic ``with_mask`` faces from ``without_mask``
    training faces (drawn with replacement when there are fewer). ``inner``: exact crop side / context side.
    ``transplant``: the fraction whose mask is a real one moved from a ``with_mask`` training face
    (:func:`transplant_mask`) instead of a drawn one."""
    src = np.flatnonzero(train.labels == WITHOUT_MASK)
    if per_class <= 0 or len(src) == 0:
        return train.subset(np.empty(0, np.int64))
    donors = np.flatnonzero((train.labels == WITH_MASK) & (train.sources != "synthetic"))
    rng = np.random.default_rng((seed, 77))
    picks = rng.choice(src, size=2 * per_class, replace=len(src) < 2 * per_class)
    contexts, exacts, labels = [], [], []
    for k, i in enumerate(picks):
        incorrect = k < per_class
        ctx = train.context[i]
        face_side = ctx.shape[0] / (1 + 2 * context_margin)
        if len(donors) and rng.random() < transplant:
            drawn = transplant_mask(ctx, train.context[int(rng.choice(donors))], face_side, incorrect, rng)
        else:
            drawn = draw_mask(ctx, face_side, incorrect, rng)
        contexts.append(drawn)
        exacts.append(center_crop(drawn, exact_size, inner))
        labels.append(MASK_INCORRECT if incorrect else WITH_MASK)
    n = len(picks)
    out = FaceSet(
        np.stack(exacts), np.stack(contexts), np.array(labels), np.array([f"synthetic:{g}" for g in train.groups[picks]]),
        np.array(["synthetic"] * n), train.names[picks], train.face_px[picks],
    )
    log.info("synthetic masks: %d mask_incorrect + %d with_mask on without_mask training faces (%.0f%% moved from "
             "with_mask faces, the rest drawn)", per_class, per_class, 100 * transplant)
    return out
