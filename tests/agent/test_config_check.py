"""``maskwatch config check`` loads the configured detector and classifier and runs them once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_agent.config import ConfigError, parse_config
from edge_agent.selfcheck import self_check


def _check(tmp_path: Path, config: dict[str, object], *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "edge_agent", "config", "check", "--config", str(path), *extra],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("detector", ["centerface", "blazeface"])
def test_self_check_finds_the_face_in_the_shipped_photo(detector: str) -> None:
    check = self_check(parse_config({"detector": {"type": detector}}))
    assert check.detector == detector
    assert check.faces == 1
    assert check.verdict == "without_mask" and check.probability > 0.6


def test_check_runs_one_inference(tmp_path: Path) -> None:
    proc = _check(tmp_path, {"detector": {"type": "blazeface", "range": "short"}})
    assert proc.returncode == 0, proc.stderr
    assert "detector blazeface and classifier loaded" in proc.stdout
    assert "1 face(s), without_mask" in proc.stdout


@pytest.mark.parametrize(("config", "key"), [
    ({"detector": {"type": "centerface", "model": "/nonexistent/centerface.onnx"}}, "detector.model"),
    ({"detector": {"type": "blazeface", "model": "/nonexistent/bf.tflite"}}, "detector.model"),
    ({"detector": {"type": "centerface", "model": "{garbage}"}}, "detector"),
    ({"classifier": {"model_card": "/nonexistent/model_card.json"}}, "classifier.model_card"),
    ({"detector": {"type": "centerface", "score_threshold": 1.0}}, "detector (centerface): found no face"),
])
def test_check_fails_naming_the_key(tmp_path: Path, config: dict[str, object], key: str) -> None:
    if "{garbage}" in str(config):  # a file that exists but is not a model
        garbage = tmp_path / "garbage.onnx"
        garbage.write_bytes(b"not an onnx file" * 100)
        config = {"detector": {"type": "centerface", "model": str(garbage)}}
    proc = _check(tmp_path, config)
    assert proc.returncode == 2, proc.stdout
    assert f"maskwatch config: {key}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "ok:" not in proc.stdout


def test_no_models_validates_only(tmp_path: Path) -> None:
    proc = _check(tmp_path, {"classifier": {"model_card": "/nonexistent/model_card.json"}}, "--no-models")
    assert proc.returncode == 0 and "models not loaded" in proc.stdout


def test_self_check_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^classifier\.model_card: "):
        self_check(parse_config({"classifier": {"model_card": "/nonexistent/card.json"}}))


def test_agent_checks_without_the_dashboards_secrets(tmp_path: Path) -> None:
    """--agent (what the installer runs with the agent's env file): the dashboard side's ${VAR}s may be unset."""
    config = {"dashboard": {"secret_key": "${MASKWATCH_TEST_UNSET_SECRET}"}}
    assert _check(tmp_path, config, "--agent", "--no-models").returncode == 0
    refused = _check(tmp_path, config, "--no-models")
    assert refused.returncode == 2 and "MASKWATCH_TEST_UNSET_SECRET" in refused.stderr
