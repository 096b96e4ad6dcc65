"""The agent on arm64 under emulation (scripts/arm64_proof.sh): an arm64 Debian bookworm root with exactly the
packages deploy/install.sh installs, the agent from aarch64 wheels, run by qemu-aarch64-static.

4.3 minutes with the root already built at load ~9 on 2 cores, 9 minutes at load ~17 (start-up alone is
about a minute per command under emulation; a fresh root adds about a minute): too close to or over CI's
budget of ~6 minutes, so it is opt-in:
runs when MASKWATCH_ARM64=1 (optionally MASKWATCH_ARM64_WORK=DIR to reuse a built root and site).
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

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("MASKWATCH_ARM64") != "1",
                       reason="the arm64 emulation proof takes 4-9 min here (at or over CI's ~6 min budget); "
                       "set MASKWATCH_ARM64=1 to run it"),
    pytest.mark.skipif(not (shutil.which("qemu-aarch64-static") and shutil.which("debootstrap")),
                       reason="needs qemu-user-static and debootstrap (apt-get install qemu-user-static debootstrap)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap needs root"),
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
