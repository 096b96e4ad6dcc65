"""Mask classifier adapter: model card + int8 TFLite model -> class probabilities for a batch of crops.

Runtime preference (FIELD-NOTES): ai_edge_litert, then tflite_runtime, then tensorflow.lite.
The model card (JSON next to the .tflite) names the model file, the labels in output order and the crop.
Input quantization is read from the model itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.core.crop import CropSpec
from edge_agent.core.labels import Verdict, check_labels
from edge_agent.model_card import CropCard, ModelCard, ModelError, load_model_card

log = logging.getLogger(__name__)

__all__ = ["Classifier", "CropCard", "ModelCard", "ModelError", "load_model_card", "make_interpreter"]


def make_interpreter(model_path: Path, threads: int = 1) -> Any:
    """A TFLite interpreter from the best runtime installed."""
    errors = []
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite"):
        try:
            mod = __import__(module, fromlist=["Interpreter"])
            cls = mod.Interpreter
        except Exception as err:  # noqa: BLE001 - try the next runtime
            errors.append(f"{module}: {err}")
            continue
        try:
            return cls(model_path=str(model_path), num_threads=threads)
        except ValueError as err:
            raise ModelError(f"cannot load model {model_path}: {err}") from None
    raise ModelError("no TFLite runtime could be loaded: " + "; ".join(errors))


class Classifier:
    """Classifies ``(n, size, size, 3)`` RGB uint8 crops; all faces of a frame in one call."""

    def __init__(self, model_card: Path, threads: int = 1) -> None:
        self.card_path = Path(model_card)
        self.card = load_model_card(self.card_path)
        model_path = self.card_path.parent / self.card.model_file
        if not model_path.is_file():
            raise ModelError(f"model file {model_path} named by {self.card_path} does not exist")
        self.labels: tuple[Verdict, ...] = tuple(check_labels(self.card.labels))
        self.crop = CropSpec(size=self.card.crop.size, margin=self.card.crop.margin)
        self._interp = make_interpreter(model_path, threads)
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype, self._out_dtype = inp["dtype"], out["dtype"]
        self._in_scale, self._in_zero = inp["quantization"]
        self._out_scale, self._out_zero = out["quantization"]
        shape = tuple(int(s) for s in inp["shape"])
        if shape[1:] != (self.card.input_size, self.card.input_size, 3):
            raise ModelError(f"model input {shape} does not match card input_size {self.card.input_size}")
        if int(out["shape"][-1]) != len(self.labels):
            raise ModelError(f"model has {out['shape'][-1]} outputs but the card names {len(self.labels)} labels")
        self._batch = 0
        self._interp.allocate_tensors()

    def _resize(self, n: int) -> None:
        if n != self._batch:
            s = self.card.input_size
            self._interp.resize_tensor_input(self._in_index, [n, s, s, 3])
            self._interp.allocate_tensors()
            self._batch = n

    def _quantize(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        x = crops.astype(np.float32)
        if self._in_dtype == np.float32:
            return x
        info = np.iinfo(self._in_dtype)
        q = np.round(x / self._in_scale + self._in_zero)
        return np.clip(q, info.min, info.max).astype(self._in_dtype)

    def predict_proba(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Class probabilities ``(n, n_labels)``; columns follow ``self.labels``."""
        if crops.ndim != 4 or crops.shape[1:] != (self.card.input_size, self.card.input_size, 3):
            raise ValueError(f"crops must be (n, {self.card.input_size}, {self.card.input_size}, 3), got {crops.shape}")
        n = len(crops)
        if n == 0:
            return np.empty((0, len(self.labels)), np.float32)
        self._resize(n)
        self._interp.set_tensor(self._in_index, self._quantize(crops))
        self._interp.invoke()
        raw = self._interp.get_tensor(self._out_index)
        if self._out_dtype != np.float32:
            raw = (raw.astype(np.float32) - self._out_zero) * self._out_scale
        probs = raw.astype(np.float32)
        sums = probs.sum(axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = probs / np.where(sums > 0, sums, 1.0)
        return out

    def classify(self, crops: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """``(class_id, class_score)`` per crop."""
        probs = self.predict_proba(crops)
        ids = probs.argmax(axis=1).astype(np.int32) if len(probs) else np.empty(0, np.int32)
        return ids, probs[np.arange(len(probs)), ids].astype(np.float32)
