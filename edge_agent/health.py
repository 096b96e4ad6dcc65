"""``GET /healthz`` on 127.0.0.1 (``agent.health_port``): JSON with cameras, MQTT and queue state.

200 when every camera's analysis loop is alive, 503 otherwise. Loopback only: it is for local probes.
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
    def __init__(self, port: int, report: Callable[[], tuple[bool, dict[str, Any]]], host: str = "127.0.0.1") -> None:
        self.report = report

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/healthz":
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
