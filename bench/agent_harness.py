"""Shared parts of the whole-agent benchmarks, from tests/helpers: a real mosquitto, the GStreamer RTSP test
server, ``maskwatch agent`` / ``maskwatch dashboard ingest`` subprocesses and /proc CPU and RSS samples."""

from __future__ import annotations

import sys
from pathlib import Path

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


__all__ = ["shipped_detector", "ROOT", "AgentProcess", "IngestProcess", "free_port", "mosquitto", "proc_sample", "rtsp", "wait_for",
           "write_agent_config", "write_dashboard_config"]
