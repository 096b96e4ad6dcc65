"""CenterFace on OpenCV DNN vs onnxruntime: the same input blob, the same four output maps, CPU ms each.

    python bench/bench_centerface_runtime.py [--repeat 30] [--threads 1] [--json]

Both runtimes get the blob the agent's detector builds (``cv2.dnn.blobFromImage`` of a demo-scene frame at
the network input size for 640x480 and 1280x720, ``input_scale`` 1.0 and 0.5), from the same shipped file
(its sizes are symbolic: scripts/make_centerface_dynamic.py). Needs onnxruntime. Prints, per size,
median wall ms and CPU ms per forward pass for each runtime and the largest absolute difference between
their outputs (heatmap, scale, offset, landmarks) and in the decoded boxes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import cv2
import numpy as np

from edge_agent.assets import CENTERFACE_ONNX
from edge_agent.detectors.centerface import _OUTPUTS, decode, input_size

SIZES = ((640, 480, 1.0), (1280, 720, 1.0), (1280, 720, 0.5))


def timed(fn, repeat: int) -> tuple[float, float]:  # noqa: ANN001
    fn()  # warm-up: planning
    walls = []
    c0 = time.process_time()
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(walls), (time.process_time() - c0) * 1000.0 / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="threads for both runtimes (the agent's share)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import onnxruntime as ort

    from edge_agent.sources.demo import DemoScene

    cv2.setNumThreads(args.threads)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    ort.set_default_logger_severity(3)
    sess = ort.InferenceSession(str(CENTERFACE_ONNX), opts, providers=["CPUExecutionProvider"])
    rows = []
    for w, h, scale in SIZES:
        frame = DemoScene(w, h).render(6.0)
        iw, ih = input_size(w, h, scale)
        blob = cv2.dnn.blobFromImage(frame, 1.0, (iw, ih), (0, 0, 0), swapRB=True, crop=False)
        net = cv2.dnn.readNetFromONNX(str(CENTERFACE_ONNX))

        def run_cv(net=net, blob=blob):  # noqa: ANN001, ANN202
            net.setInput(blob)
            return net.forward(_OUTPUTS)

        def run_ort(blob=blob):  # noqa: ANN001, ANN202
            return sess.run(_OUTPUTS, {"input.1": blob})

        cv_wall, cv_cpu = timed(run_cv, args.repeat)
        ort_wall, ort_cpu = timed(run_ort, args.repeat)
        a, b = run_cv(), run_ort()
        diff = max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in zip(a, b, strict=True))
        boxes_a, _ = decode(a[0][0, 0], a[1][0], a[2][0], 0.4)
        boxes_b, _ = decode(b[0][0, 0], b[1][0], b[2][0], 0.4)
        box_diff = float(np.abs(boxes_a - boxes_b).max()) if len(boxes_a) == len(boxes_b) and len(boxes_a) else (
            0.0 if len(boxes_a) == len(boxes_b) else float("inf"))
        rows.append({"frame": f"{w}x{h}", "input_scale": scale, "net_input": f"{iw}x{ih}",
                     "opencv_ms": round(cv_wall, 1), "opencv_cpu_ms": round(cv_cpu, 1),
                     "onnxruntime_ms": round(ort_wall, 1), "onnxruntime_cpu_ms": round(ort_cpu, 1),
                     "max_output_diff": round(diff, 6), "faces": [len(boxes_a), len(boxes_b)],
                     "max_box_diff_px": round(box_diff, 3)})
    result = {"threads": args.threads, "repeat": args.repeat, "opencv": cv2.__version__, "onnxruntime": ort.__version__,
              "cpus": os.cpu_count(), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"CenterFace forward pass, {args.threads} thread(s), OpenCV {cv2.__version__}, onnxruntime {ort.__version__}")
    print(f"{'frame':>9} {'scale':>5} {'input':>9} | {'OpenCV ms (cpu)':>16} | {'onnxruntime ms (cpu)':>20} | "
          f"{'max |diff|':>10} {'faces':>7} {'box px':>7}")
    for r in rows:
        print(f"{r['frame']:>9} {r['input_scale']:>5} {r['net_input']:>9} | {r['opencv_ms']:>7} ({r['opencv_cpu_ms']:>6}) | "
              f"{r['onnxruntime_ms']:>11} ({r['onnxruntime_cpu_ms']:>6}) | {r['max_output_diff']:>10} "
              f"{'/'.join(map(str, r['faces'])):>7} {r['max_box_diff_px']:>7}")


if __name__ == "__main__":
    main()
