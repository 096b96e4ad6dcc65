"""edge_agent/memory.py: with the fixed mmap threshold, freed frame-sized blocks leave the process (RSS)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge_agent import memory

# 60 frame-sized (2.7 MB) arrays, every other one freed: the holes stay resident when the blocks came from
# the heap (glibc's default, whose threshold rises after the first free), and are unmapped with the fixed one
PROBE = """
import os, sys
from edge_agent import memory
if sys.argv[1] == "tuned":
    assert memory.tune_malloc()
import numpy as np
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
first = np.ones((720, 1280, 3), np.uint8); del first  # the free that raises glibc's dynamic threshold
frames = [np.ones((720, 1280, 3), np.uint8) for _ in range(60)]
before = rss()
del frames[::2]
print(round(before - rss(), 1))
"""


def released_mb(mode: str) -> float:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         timeout=60, env=env)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._mallopt is None, reason="glibc only")
def test_freed_frames_leave_the_process_with_the_tuned_threshold():
    assert released_mb("tuned") > 70  # 30 x 2.64 MB = 79 MB unmapped
    assert released_mb("default") < 10  # the default keeps them (this is what the agent did before)


def test_an_explicit_environment_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    assert memory.tune_malloc() is False


def test_the_trimmer_runs_at_its_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "malloc_trim", lambda: calls.append(1) or True)
    t = memory.Trimmer(every_s=5.0)
    for now in (100.0, 101.0, 104.9, 105.0, 106.0, 110.5):
        t.tick(now)
    assert len(calls) == 3 and t.calls == 3  # at 100, 105 and 110.5
