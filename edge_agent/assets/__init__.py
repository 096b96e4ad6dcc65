"""Files shipped inside the agent package: detector weights (``models/detectors``) and sample images.

Located next to this module, so they exist in every install (wheel, editable, aarch64 ``--target``).
Provenance, licences and digests: ``models/detectors/PROVENANCE.md`` and ``assets/PROVENANCE.md``.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent
DETECTOR_MODELS = ASSETS.parent / "models" / "detectors"

CENTERFACE_ONNX = DETECTOR_MODELS / "centerface.onnx"
BLAZEFACE_TFLITE = {
    "short": DETECTOR_MODELS / "face_detection_short_range.tflite",
    "full": DETECTOR_MODELS / "face_detection_full_range.tflite",
}
ASTRONAUT_JPG = ASSETS / "astronaut.jpg"  # one face, box about (180, 60, 272, 180)
GRACE_HOPPER_JPG = ASSETS / "grace_hopper.jpg"
