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
        "agent": {"stats_interval_s": 1},
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
