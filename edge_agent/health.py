"""``GET /healthz`` on 127.0.0.1 (``agent.health_port``, on by default): JSON with cameras, MQTT and queue
state; ``GET /metrics``: Prometheus text (:mod:`edge_agent.metrics`).

200 when every camera's analysis loop is alive, 503 otherwise. Loopback by default: it is for local probes
(and a Prometheus on the same host, or one reached through a tunnel).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, port: int, report: Callable[[], tuple[bool, dict[str, Any]]], host: str = "127.0.0.1",
                 metrics: Callable[[], bytes] | None = None) -> None:
        self.report = report
        self.metrics = metrics

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path == "/metrics" and outer.metrics is not None:
                    self._metrics()
                    return
                if path != "/healthz":
                    self.send_error(404)
                    return
                try:
                    ok, body = outer.report()
                except Exception as err:  # the probe must answer even when the report fails
                    log.exception("health report failed")
                    ok, body = False, {"error": repr(err)}
                data = json.dumps({"ok": ok, "time": time.time(), **body}).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _metrics(self) -> None:
                try:
                    data, code = outer.metrics(), 200  # type: ignore[misc]
                except Exception:
                    log.exception("metrics failed")
                    data, code = b"metrics failed\n", 500
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="healthz", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
