"""bench/bench_stages.py prints its per-stage figures; bench/issue14_figures.sh finds the cases it summarises."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import rtsp

ROOT = Path(__file__).resolve().parents[2]


def test_bench_stages_prints_every_stage() -> None:
    if not rtsp.available():
        pytest.skip("GStreamer RTSP server not installed")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_stages.py"), "--frames", "4", "--json"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    stages = {r["stage"].split(" ", 1)[0]: r for r in doc["rows"]}
    assert {"1", "2", "3", "4", "6", "7", "8"} <= set(stages)
    assert all(r["cpu_ms"] >= 0 and r["n"] >= 1 for r in doc["rows"])
    assert stages["4"]["cpu_ms"] > stages["2"]["cpu_ms"], "the detector should cost more than a conversion"


def test_the_figures_script_names_cases_the_preset_runs() -> None:
    script = (ROOT / "bench" / "issue14_figures.sh").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / "bench" / "issue14_figures.sh")]).returncode == 0
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_agent import ISSUE14_CASES
    finally:
        sys.path.remove(str(ROOT / "bench"))
    labels = [c[0] for c in ISSUE14_CASES]
    for prefix in re.findall(r'startswith\("([^"]+)"\)', script):
        assert sum(label.startswith(prefix) for label in labels) == 1, prefix
    assert any(c[1] == 4 and c[3] == "people" for c in ISSUE14_CASES)
