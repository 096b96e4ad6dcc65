"""Shared parts of the whole-agent benchmarks, from tests/helpers: a real mosquitto, the GStreamer RTSP test
server, ``maskwatch agent`` / ``maskwatch dashboard ingest`` subprocesses and /proc CPU and RSS samples; and
the latency benchmarks' figures (percentiles of a segment, a p95 target, their table)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from helpers import mosquitto, rtsp  # noqa: E402
from helpers.net import free_port, wait_for  # noqa: E402
from helpers.stack import (  # noqa: E402
    AgentProcess,
    IngestProcess,
    proc_sample,
    write_agent_config,
    write_dashboard_config,
)


def shipped_detector() -> dict:
    """The ``detector`` section of the repository's config.yaml: what a user runs out of the box."""
    import yaml

    return dict(yaml.safe_load((ROOT / "config.yaml").read_text())["detector"])


def stored_time(text: str) -> float:
    """A stored naive-UTC timestamp (SQLite text) as epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def segment(values_ms: list[float], *, with_max: bool = False) -> dict[str, float]:
    """One latency segment's p50 and p95 (and max) in ms."""
    out = {"p50": pct(values_ms, 50), "p95": pct(values_ms, 95)}
    return {**out, "max": pct(values_ms, 100)} if with_max else out


def p95_target(seg: dict[str, float], limit_ms: float) -> dict[str, Any]:
    """Whether a segment's p95 is under ``limit_ms`` (never met without measurements)."""
    return {"value": seg["p95"], "met": seg["p95"] == seg["p95"] and seg["p95"] < limit_ms}


def latency_table(title: str, out: dict[str, Any], keys: Sequence[str], target: str, target_text: str) -> str:
    """The segments as rows of p50/p95, then the target's line (``target_text``, e.g. "p95 < 1 s")."""
    width = max(len(k) for k in keys) + 3
    lines = [title, f"{'segment':{width}} {'p50 ms':>8} {'p95 ms':>8}"]
    lines += [f"{key:{width}} {out[key]['p50']:>8} {out[key]['p95']:>8}" for key in keys]
    t = out[target]
    lines.append(f"target {target_text}: {t['value']} ms -> {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


__all__ = ["latency_table", "p95_target", "pct", "segment", "stored_time", "shipped_detector", "ROOT", "AgentProcess", "IngestProcess", "free_port", "mosquitto", "proc_sample", "rtsp", "wait_for",
           "write_agent_config", "write_dashboard_config"]
