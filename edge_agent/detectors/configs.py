"""The face detectors' config models (``detector``), beside the detectors; registered in
``edge_agent.detectors.REGISTRY``, from which the schema's ``detector`` union is built."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge_agent.config_base import Section


class CenterFaceConfig(Section):
    type: Literal["centerface"]
    model: Path | None = Field(None, description="centerface.onnx; default: the file shipped in the package (MIT)")
    runtime: Literal["opencv", "onnxruntime"] = Field(
        "opencv", description="opencv: OpenCV DNN (always installed); onnxruntime: 20-30% less CPU per frame on x86 "
        "(bench/bench_centerface_runtime.py), needs the [onnxruntime] extra (+80 MB on x86)",
    )
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Minimum face score")
    input_scale: float = Field(1.0, gt=0.1, le=4.0, description="Scale the frame by this before detection")
    min_face_px: int = Field(10, ge=1, description="Ignore faces whose shorter side is smaller (frame pixels)")
    nms_iou: float = Field(0.3, gt=0, le=1.0, description="Overlap above which the weaker face is dropped")
    box_adjust: tuple[float, float, float, float] = Field(
        (0.0, 0.12, 1.04, 0.95),
        description="Box calibration [dx, dy, sw, sh]: move the centre by dx*width, dy*height, scale width by sw "
        "and height by sh. The default maps CenterFace boxes to the training annotations' convention (they "
        "include the chin); [0, 0, 1, 1] keeps CenterFace's own boxes. See docs/evaluation.md",
    )
    box_adjust_px: tuple[float, float, float, float] = Field(
        (0.0, 0.0, 0.0, 0.0),
        description="Then [ox, oy, ow, oh] in frame pixels: added to the box centre (x, y), width and height. For "
        "annotations in inclusive pixel coordinates (VOC style); maskwatch detect/eval use [0.5, 0, 1.5, 1.5] "
        "(fitted on andrewmvd training images); at camera face sizes it changes nothing that matters",
    )


class BlazeFaceConfig(Section):
    type: Literal["blazeface"]
    model: Path | None = Field(None, description="BlazeFace .tflite; default: the file for `range` shipped in the package (Apache-2.0)")
    range: Literal["short", "full"] = Field("full", description="short: faces within ~2 m; full: up to ~5 m")
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    min_face_px: int = Field(10, ge=1)
    nms_iou: float = Field(0.3, gt=0, le=1.0)


class FakeDetectorConfig(Section):
    """For tests: returns the boxes given here on every frame."""

    type: Literal["fake"]
    boxes: list[tuple[float, float, float, float]] = Field(default_factory=list)
    score: float = 0.9
