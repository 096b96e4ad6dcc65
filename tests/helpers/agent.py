"""Build agent configs for tests and run the runtime in a thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import jsonschema

from edge_agent.config import Config, parse_config
from edge_agent.runtime import Runtime
from edge_agent.schemas import load


def agent_config(tmp_path: Path, port: int, cameras: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site": "s1",
        "agent_id": "a1",
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 1, "reconnect_max_s": 2, "keepalive_s": 5},
        "queue": {"path": str(tmp_path / "queue.sqlite3")},
        "agent": {"stats_interval_s": 1, "health_port": None},  # on by default (9101): tests pick free ports
        "preview": {"fps": 2},
        "cameras": cameras,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


class RuntimeThread:
    """The runtime in a background thread (no signal handlers); ``stop()`` is the clean exit."""

    def __init__(self, config: Config | dict[str, Any], **kw: Any) -> None:
        self.config = config if isinstance(config, Config) else parse_config(config)
        self.runtime = Runtime(self.config, **kw)
        self.thread = threading.Thread(target=self.runtime.run, kwargs={"install_signals": False}, daemon=True)

    def start(self) -> RuntimeThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self.runtime.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "runtime did not stop"


def validate(kind: str, payload: bytes) -> dict[str, Any]:
    """Parse a JSON payload and validate it against the published JSON Schema of ``kind``."""
    doc: dict[str, Any] = json.loads(payload)
    jsonschema.validate(doc, load(kind))
    return doc


class AgentProcess:
    """``python -m edge_agent agent --config FILE`` with its output collected line by line."""

    def __init__(self, config: Path, env_extra: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys

        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_agent", "agent", "--config", str(config)],
                                     cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def event_ids(self) -> list[str]:
        """Event ids the agent logged as produced (one log line per violation event)."""
        import re

        return [m.group(1) for line in list(self.lines) if (m := re.search(r", event ([0-9a-f]{32})\)", line))]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.terminate()
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc
