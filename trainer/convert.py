"""Keras model -> full-integer int8 TFLite, calibrated on a class-balanced set of training crops."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import tensorflow as tf

log = logging.getLogger(__name__)


def balanced_representative(
    images: npt.NDArray[np.uint8], y: npt.NDArray[np.int64], per_class: int, seed: int
) -> npt.NDArray[np.uint8]:
    """Up to ``per_class`` crops of each class (all of a class when it has fewer), in a seeded order."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        picks.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    order = np.concatenate(picks)
    return images[rng.permutation(order)]


def to_int8_tflite(model: tf.keras.Model, representative: npt.NDArray[np.uint8]) -> bytes:
    """Full-integer quantisation: int8 weights and activations, int8 input and output."""

    def data() -> Iterator[list[npt.NDArray[np.float32]]]:
        for img in representative:
            yield [img[None].astype(np.float32)]

    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        out: bytes = converter.convert()
    return out
