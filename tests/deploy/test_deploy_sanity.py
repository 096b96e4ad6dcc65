"""The installer's sanity step: `maskwatch config check` with the installed config runs the models once, and a
config whose models cannot load stops the install before any service is started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed venv runs its own copy
    return subprocess.run([str(INSTALL), "--root", str(root), "--site", "s1", "--no-broker", "--no-dashboard",
                           "--no-start", "--python", sys.executable, "--deps-from", sys.prefix, *extra],
                          capture_output=True, text=True, timeout=600, check=False, env=env)


def test_sanity_step_runs_one_inference_and_stops_a_broken_install(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ok = _install(root)
    assert ok.returncode == 0, ok.stderr
    assert "one inference on the shipped test photo: 1 face(s), without_mask" in ok.stdout
    config = root / "etc" / "maskwatch" / "config.yaml"
    config.write_text(config.read_text().replace("type: centerface", "type: centerface\n  model: /nonexistent.onnx", 1))
    broken = _install(root)  # an upgrade keeps the edited config.yaml
    assert broken.returncode != 0
    assert "detector.model: /nonexistent.onnx does not exist" in broken.stderr
    assert "nothing was started" in broken.stderr
