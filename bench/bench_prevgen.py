"""Previous generation vs MaskWatch on the same inputs, as a speed ratio (one thread, same runtime).

    python bench/bench_prevgen.py [--seconds 3] [--json out.json]

The previous generation of mask detectors: an SSD face detector (OpenCV DNN "res10_300x300_ssd") and a
224x224 MobileNetV2 float classifier per face. No weights can be downloaded here, so:

- classifier: a randomly initialised Keras MobileNetV2 (alpha 1.0, 224x224x3, 3 classes) converted to a
  float32 TFLite model. Its weights are random, so only its SPEED means anything; it runs in the same
  runtime as ours (ai-edge-litert, one thread). Needs TensorFlow (``pip install tensorflow-cpu``, the
  trainer's extra); the converted model is cached in ~/.cache/maskwatch-bench/.
- SSD face detector: used only if res10 Caffe files are on disk (``--ssd-dir`` with deploy.prototxt and
  res10_300x300_ssd_iter_140000*.caffemodel); otherwise reported as not measured. (None were found on the
  development machine or in any installed wheel.)

Compared with the packaged int8 classifier (MobileNetV2 alpha 0.35, 64x64 input) and CenterFace at the
shipped input_scale on the same 1280x720 demo frames.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "maskwatch-bench"
PREV_TFLITE = CACHE / "mobilenetv2_224_float_random.tflite"

_CONVERT = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
m = tf.keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, weights=None, classes=3)
conv = tf.lite.TFLiteConverter.from_keras_model(m)
open(sys.argv[1], "wb").write(conv.convert())
"""


def previous_classifier() -> Path | None:
    if PREV_TFLITE.is_file():
        return PREV_TFLITE
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", _CONVERT, str(PREV_TFLITE)], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0 or not PREV_TFLITE.is_file():
        print(f"cannot build the MobileNetV2 224 float model (TensorFlow missing?): {r.stderr[-500:]}",
              file=sys.stderr)
        return None
    return PREV_TFLITE


def time_calls(fn, seconds: float) -> float:  # noqa: ANN001
    for _ in range(3):
        fn()
    ts = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(ts) < 10:
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def tflite_ms(model: Path, seconds: float) -> float:
    from edge_agent.classifier import make_interpreter

    interp = make_interpreter(model, 1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = (np.random.default_rng(0).random(inp["shape"]) * 2 - 1).astype(inp["dtype"])

    def run() -> None:
        interp.set_tensor(inp["index"], x)
        interp.invoke()
    return time_calls(run, seconds)


def ssd_ms(folder: Path | None, frame: np.ndarray, seconds: float) -> float | None:
    if folder is None:
        return None
    import cv2

    proto = folder / "deploy.prototxt"
    models = sorted(folder.glob("res10_300x300_ssd_iter_140000*.caffemodel"))
    if not proto.is_file() or not models:
        return None
    net = cv2.dnn.readNetFromCaffe(str(proto), str(models[0]))

    def run() -> None:
        net.setInput(cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), (104, 177, 123)))
        net.forward()
    return time_calls(run, seconds)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--ssd-dir", type=Path, help="folder with deploy.prototxt and the res10 caffemodel")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    import yaml

    from edge_agent.classifier import Classifier
    from edge_agent.config import PACKAGED_MODEL, parse_config
    from edge_agent.detectors import create_detector
    from edge_agent.sources.demo import DemoScene

    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())["detector"]
    frame = DemoScene(1280, 720).render(4.0)
    ours = Classifier(PACKAGED_MODEL, 1)
    crops = np.random.default_rng(0).integers(0, 256, (1, ours.card.input_size, ours.card.input_size, 3), np.uint8)
    ours_ms = time_calls(lambda: ours.predict_proba(crops), args.seconds)
    det = create_detector(parse_config({"detector": shipped}).detector)
    det_ms = time_calls(lambda: det.detect(frame), args.seconds)
    prev_model = previous_classifier()
    prev_ms = tflite_ms(prev_model, args.seconds) if prev_model else None
    ssd = ssd_ms(args.ssd_dir, frame, args.seconds)
    faces = 5  # a busy entrance: per-frame cost with five faces
    out: dict[str, Any] = {
        "benchmark": "previous generation", "threads": 1, "load_avg_1m": round(os.getloadavg()[0], 2),
        "classifier_ms_per_face": {
            "maskwatch int8 64x64 (packaged)": round(ours_ms, 3),
            "previous MobileNetV2 224x224 float (random weights)": None if prev_ms is None else round(prev_ms, 3)},
        "classifier_speed_ratio": None if prev_ms is None else round(prev_ms / ours_ms, 1),
        "detector_ms_per_720p_frame": {f"maskwatch CenterFace x{shipped.get('input_scale', 1.0)}": round(det_ms, 1),
                                       "previous SSD res10 300x300": None if ssd is None else round(ssd, 1)},
        "detector_note": "res10 SSD weights not found on this machine: not measured" if ssd is None else "",
        "per_frame_ms_with_5_faces": {
            "maskwatch": round(det_ms + faces * ours_ms, 1),
            "previous": None if prev_ms is None or ssd is None else round(ssd + faces * prev_ms, 1),
            "previous classifier only (+ our detector)": None if prev_ms is None else round(det_ms + faces * prev_ms, 1)},
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
