"""Bad configuration and broken model files: ``maskwatch agent`` exits with code 2 and a message that names
the problem (the key, the allowed values, or the file), before it touches a camera or the broker.
Table-driven; each case runs the real command as a user would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.config import PACKAGED_MODEL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

CAMERA = {"name": "door", "source": {"type": "demo", "fps": 5}}


def run_agent(tmp_path: Path, cfg: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    base: dict[str, Any] = {"site": "s1", "agent_id": "a1", "queue": {"path": str(tmp_path / "q.sqlite3")},
                            "mqtt": {"host": "127.0.0.1", "port": 9}, "cameras": [CAMERA]}
    base.update(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return subprocess.run([sys.executable, "-m", "edge_agent", "agent", "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize(("cfg", "fragments"), [
    ({"cameras": [{**CAMERA, "detect_fps": 0}]}, ["cameras[0].detect_fps", "greater than 0"]),
    ({"mqtt": {"port": 70000}}, ["mqtt.port", "70000"]),
    ({"detector": {"type": "yolo"}}, ["detector", "'yolo'", "centerface"]),
    ({"tracker": {"votes": 9, "window": 5}}, ["tracker", "votes (9) cannot exceed window (5)"]),
    ({"cameras": [{**CAMERA, "roi": [[0, 0], [2, 0], [1, 1]]}]}, ["cameras[0].roi", "0.0..1.0"]),
    ({"cameras": [CAMERA, CAMERA]}, ["camera names must be unique", "door"]),
    ({"log_level": "LOUD"}, ["log_level", "LOUD"]),
    ({"mqtt": {"password": "${MASKWATCH_TEST_UNSET_VARIABLE}"}}, ["mqtt.password", "MASKWATCH_TEST_UNSET_VARIABLE"]),
    ({"queue": {"max_messages": "many"}}, ["queue.max_messages", "many"]),
], ids=["detect_fps", "port", "detector-type", "votes", "roi", "duplicate-camera", "log-level", "missing-env",
        "wrong-type"])
def test_invalid_config_value_exits_2_naming_the_key(tmp_path: Path, cfg: dict[str, Any], fragments: list[str]) -> None:
    r = run_agent(tmp_path, cfg)
    assert r.returncode == 2, r.stderr[-2000:]
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr


def broken_card(tmp_path: Path, how: str) -> Path:
    """A copy of the packaged model card + model, broken one way."""
    folder = tmp_path / "model"
    folder.mkdir()
    card = json.loads(PACKAGED_MODEL.read_text())
    shutil.copy(PACKAGED_MODEL.parent / card["model_file"], folder / card["model_file"])
    path = folder / "model_card.json"
    if how == "missing-model":
        (folder / card["model_file"]).unlink()
    elif how == "corrupt-model":
        (folder / card["model_file"]).write_bytes(b"TFL3" + bytes(range(256)) * 8)
    elif how == "truncated-model":
        data = (folder / card["model_file"]).read_bytes()
        (folder / card["model_file"]).write_bytes(data[: len(data) // 3])
    elif how == "corrupt-card":
        path.write_text("{ not json")
        return path
    elif how == "card-wrong-labels":
        card["labels"] = ["with_mask", "nope"]
    path.write_text(json.dumps(card))
    return path


needs_model = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason=f"no packaged classifier ({PACKAGED_MODEL})")


@needs_model
@pytest.mark.parametrize(("how", "fragments"), [
    ("missing-card", ["model card", "does-not-exist.json"]),
    ("missing-model", ["mask_classifier_int8.tflite", "does not exist"]),
    ("corrupt-model", ["cannot load model", "mask_classifier_int8.tflite"]),
    ("truncated-model", ["mask_classifier_int8.tflite"]),
    ("corrupt-card", ["model_card.json", "not valid JSON"]),
    ("card-wrong-labels", ["model_card.json", "labels"]),
])
def test_missing_or_corrupt_classifier_exits_2_naming_the_file(tmp_path: Path, how: str, fragments: list[str]) -> None:
    card = tmp_path / "does-not-exist.json" if how == "missing-card" else broken_card(tmp_path, how)
    r = run_agent(tmp_path, {"classifier": {"model_card": str(card)}})
    assert r.returncode == 2, r.stderr[-2000:]
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_missing_or_corrupt_detector_model_exits_2_naming_the_file(tmp_path: Path, how: str) -> None:
    model = tmp_path / "centerface.onnx"
    if how == "corrupt":
        model.write_bytes(b"\x08\x07garbage" * 100)
    r = run_agent(tmp_path, {"detector": {"type": "centerface", "model": str(model)}})
    assert r.returncode == 2, r.stderr[-2000:]
    assert str(model) in r.stderr
    assert "Traceback" not in r.stderr
