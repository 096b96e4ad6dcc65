"""Helpers for the dashboard and ingest tests: payloads, JPEGs, an app on a real SQLite file, login with CSRF,
a config file for the CLI, and a throw-away PostgreSQL cluster. (Mosquitto comes from tests/helpers.)"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.db import session_factory, upgrade
from dashboard.settings import Settings, parse_settings
from edge_agent.events import CameraStats, CameraStatus, ViolationEvent

REPO = Path(__file__).resolve().parents[1]
PREFIX = "maskwatch"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


#: valid payloads, built by the agent's models (a field they add or change fails here first), with the keys set
#: here (optional ones left out, so dropping a key makes a message invalid); the builders below override fields
#: on their JSON, also with invalid values for the rejection tests
_T = datetime(2026, 1, 1, tzinfo=UTC)


def _json(payload: ViolationEvent | CameraStats | CameraStatus) -> dict[str, Any]:
    return payload.model_dump(mode="json", by_alias=True, exclude_unset=True)


EVENT = _json(ViolationEvent(
    schema="maskwatch.violation/1", site="hq", agent="pi-1", camera="door", time=_T, event_id="e1", track_id=3,
    verdict="without_mask", confidence=0.9, box=(100, 60, 220, 200), frame_size=(640, 480), votes=3))
STATS = _json(CameraStats(
    schema="maskwatch.stats/1", site="hq", agent="pi-1", camera="door", time=_T, interval_s=60,
    people={"with_mask": 8, "without_mask": 2, "mask_incorrect": 0}, frames=300, fps=5.0, inference_ms=21.5,
    dropped_frames=0))
STATUS = _json(CameraStatus(schema="maskwatch.camera_status/1", site="hq", agent="pi-1", camera="door", time=_T,
                            state="online", reason=None, resolution=(640, 480)))


def event(event_id: str = "e1", camera: str = "door", site: str = "hq", **kw: Any) -> dict[str, Any]:
    return {**EVENT, "site": site, "camera": camera, "time": now_iso(), "event_id": event_id, **kw}


def stats(camera: str = "door", site: str = "hq", people: dict[str, int] | None = None, **kw: Any) -> dict[str, Any]:
    return {**STATS, "site": site, "camera": camera, "time": now_iso(), **({"people": people} if people else {}), **kw}


def status(camera: str = "door", site: str = "hq", state: str = "online", **kw: Any) -> dict[str, Any]:
    return {**STATUS, "site": site, "camera": camera, "time": now_iso(), "state": state,
            "reason": None if state == "online" else "read timeout", **kw}


def topic(kind: str, camera: str = "door", site: str = "hq", event_id: str | None = None) -> str:
    if kind == "available":
        return f"{PREFIX}/{site}/agent/pi-1/available"
    if kind == "snapshot":
        return f"{PREFIX}/{site}/camera/{camera}/snapshot/{event_id}"
    return f"{PREFIX}/{site}/camera/{camera}/{kind}"


def raw(d: dict[str, Any]) -> bytes:
    return json.dumps(d).encode()


def jpeg(color: tuple[int, int, int] = (40, 120, 200), size: tuple[int, int] = (320, 240), text: str = "") -> bytes:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = color
    if text:
        cv2.putText(img, text, (10, size[1] // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def dashboard_settings(tmp_path: Path, **sections: Any) -> Settings:
    """The config object of a test dashboard: a real SQLite file and a snapshot folder under ``tmp_path``."""
    dashboard = {"database_url": f"sqlite:///{tmp_path / 'dash.sqlite3'}", "snapshot_dir": str(tmp_path / "snapshots"),
                 **sections.pop("dashboard", {})}
    return parse_settings({"dashboard": dashboard, **sections}, env={})


def make_app(tmp_path: Path, **settings: Any):  # type: ignore[no-untyped-def]
    """A testing app on a real SQLite file, schema upgraded through Alembic; ``settings`` override Flask's."""
    app = create_app(dashboard_settings(tmp_path), {"TESTING": True, **settings})
    upgrade(app.extensions["maskwatch"]["engine"])
    return app


def add_user(app, name: str = "manager", password: str | None = "correct horse battery", role: str = "admin",  # type: ignore[no-untyped-def]
             sites: list[str] | None = None) -> str:
    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        return create_user(db, name, password, role=role, sites=sites)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf_token in the page"
    return m.group(1) or m.group(2)


def login(client, name: str = "manager", password: str = "correct horse battery"):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def write_config(path: Path, *, db_url: str, snapshot_dir: Path, mqtt_port: int = 1883, http_port: int = 8080,
                 group: str | None = None, retention_days: int = 30,
                 security: dict[str, Any] | None = None) -> Path:
    data = {
        "site": "hq", "agent_id": "pi-1",
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "topic_prefix": PREFIX},
        "dashboard": {"database_url": db_url, "snapshot_dir": str(snapshot_dir),
                      "secret_key": "${MASKWATCH_SECRET_KEY:-}", "host": "127.0.0.1", "port": http_port,
                      "retention_days": retention_days, **({"ingest_group": group} if group else {}),
                      **({"security": security} if security else {})},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def maskwatch(*args: str, env: dict[str, str] | None = None, input: str | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real ``maskwatch`` command (python -m edge_agent) and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edge_agent", *args], capture_output=True, text=True,
                          input=input, env=full_env, cwd=REPO, timeout=timeout)


# ------------------------------------------------------------------ PostgreSQL
def pg_binaries() -> Path | None:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


class PostgresCluster:
    """initdb + pg_ctl in a temp dir as user ``postgres`` (initdb refuses root), trust auth on 127.0.0.1."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.bin = pg_binaries()
        self.dir = Path(workdir)
        self.data = self.dir / "data"
        self.port = port
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        full = list(cmd)
        if self.user:
            full = ["runuser", "-u", self.user, "--", *full]
        subprocess.run(full, check=True, capture_output=True, timeout=timeout)

    def start(self) -> PostgresCluster:
        assert self.bin is not None
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
            os.chmod(self.dir, 0o700)
            # the temp dir's parents must be traversable by the postgres user
            for p in self.dir.parents:
                if p == Path("/"):
                    break
                os.chmod(p, os.stat(p).st_mode | 0o011)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")
        return self

    def start_again(self) -> None:
        assert self.bin is not None
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.bin is not None and self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"  # make_engine picks psycopg 3
