"""The agent on arm64 under emulation (scripts/arm64_proof.sh): an arm64 Debian bookworm root with exactly the
packages deploy/install.sh installs, the agent from aarch64 wheels, run by qemu-aarch64-static.

Measured here (2 cores): 3 min 38 s from nothing (debootstrap, wheels from the index, emulation) at load ~7;
3 min with a built root; about 9 min when the machine was loaded to ~17. Under CI's ~6 min budget, so it
runs wherever its tools are (root, qemu-user-static, debootstrap, a reachable Debian mirror and package
index); MASKWATCH_ARM64=0 skips it, MASKWATCH_ARM64_WORK=DIR reuses a built root.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.agent import validate

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str) -> bool:
    import socket
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        socket.create_connection((u.hostname or "", u.port or 80), timeout=3).close()
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("MASKWATCH_ARM64") == "0", reason="MASKWATCH_ARM64=0"),
    pytest.mark.skipif(not (shutil.which("qemu-aarch64-static") and shutil.which("debootstrap")),
                       reason="needs qemu-user-static and debootstrap (apt-get install qemu-user-static debootstrap)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap needs root"),
    pytest.mark.skipif(not _reachable(os.environ.get("MIRROR", "http://deb.debian.org/debian")),
                       reason="no Debian mirror reachable (set MIRROR=http://... for a local one)"),
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = Path(os.environ.get("MASKWATCH_ARM64_WORK") or tmp_path_factory.mktemp("arm64"))
    shutil.rmtree(work / "site", ignore_errors=True)  # always this checkout's agent
    out = subprocess.run([str(ROOT / "scripts" / "arm64_proof.sh"), str(work), "60"], capture_output=True,
                         text=True, timeout=1700, env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "emulated: aarch64" in out.stdout
    return work


def test_config_check_and_detect_give_the_x86_verdict(proof: Path) -> None:
    line = json.loads((proof / "detect.json").read_text().splitlines()[0])
    assert [f["label"] for f in line["faces"]] == ["without_mask"]


def test_the_agent_decides_people_and_queues_its_messages(proof: Path) -> None:
    log = (proof / "agent.log").read_text()
    assert "Traceback" not in log
    db = sqlite3.connect(proof / "queue.sqlite3")
    rows = db.execute("SELECT topic, payload FROM outbox ORDER BY id").fetchall()
    kinds: dict[str, list[dict[str, object]]] = {}
    for topic, payload in rows:
        kind = topic.split("/")[-1] if "/snapshot/" not in topic else "snapshot"
        if kind in ("status", "stats", "event"):
            kinds.setdefault(kind, []).append(validate(kind, payload))  # the published JSON Schema of that kind
        else:
            kinds.setdefault(kind, []).append({"bytes": len(payload)})
    assert [s["state"] for s in kinds["status"]] == ["online", "offline"]
    assert sum(int(s["frames"]) for s in kinds["stats"]) >= 2  # type: ignore[call-overload]
    verdicts = {e["verdict"] for e in kinds.get("event", [])}
    assert verdicts and verdicts <= {"without_mask", "mask_incorrect"}, f"no violation decided: {log[-2000:]}"
    assert len(kinds.get("snapshot", [])) == len(kinds["event"])
