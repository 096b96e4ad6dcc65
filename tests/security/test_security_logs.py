"""No secret appears in the logs: the whole product runs at DEBUG with every kind of secret set, and every
log, command output and the dashboard database are searched for them.

Secrets: the agent's and the dashboard's MQTT passwords and the Flask secret key (from the environment,
as installed), a dashboard user's password (create-user from stdin, then a failed and a good login over
HTTP), and the password inside an RTSP camera URL (the camera is unreachable, so its URL ends up in error
messages and in the camera status the dashboard stores). A second agent with a wrong MQTT password is
refused, and says so without printing it. Processes: mosquitto with a password file, ``maskwatch agent``,
``maskwatch dashboard ingest``, ``maskwatch dashboard serve`` (waitress), ``maskwatch dashboard
create-user`` and ``maskwatch config check``.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import mosquitto
from helpers.mosquitto import Mosquitto
from helpers.net import free_port, port_open, wait_for
from helpers.stack import ROOT, AgentProcess, IngestProcess, Proc, query

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is not installed (apt install mosquitto)"),
]

SECRETS = {
    "agent MQTT password": "Agent-MQTT-s3cret-7f3a",
    "dashboard MQTT password": "Dash-MQTT-s3cret-91bc",
    "Flask secret key": "flask-secret-key-5d1e0c9b7a2f4e6d8c0b",
    "user password": "User-Pa55word-correct-horse",
    "wrong login password": "Wrong-Pa55word-attempt-x9",
    "camera password": "CamPa55-e2e4-rtsp",
    "wrong agent MQTT password": "Not-The-MQTT-Password-55",
}
ENV = {"MASKWATCH_MQTT_PASSWORD": SECRETS["agent MQTT password"],
       "MASKWATCH_DASHBOARD_MQTT_PASSWORD": SECRETS["dashboard MQTT password"],
       "MASKWATCH_SECRET_KEY": SECRETS["Flask secret key"],
       "CAM_PASSWORD": SECRETS["camera password"]}


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    r = subprocess.run([sys.executable, "-m", "edge_agent", *args], cwd=ROOT, env={**os.environ, **env},
                       input=stdin, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def http_login(port: int, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    page = opener.open(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token
    form = urllib.parse.urlencode({"username": "manager", "password": password,
                                   "csrf_token": token.group(1) or token.group(2)}).encode()
    try:
        return opener.open(f"http://127.0.0.1:{port}/login", data=form, timeout=10).status
    except urllib.error.HTTPError as err:
        return err.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def test_no_secret_in_any_log(tmp_path: Path) -> None:
    # the rendered broker (install.sh) with this test's known passwords set on its users, and every log line
    broker = Mosquitto(tmp_path / "broker", anonymous=False, site="hq", agent="agent-1", extra=["log_type all"])
    agent_user = broker.users["agent"][0]
    broker.set_password(agent_user, SECRETS["agent MQTT password"])
    broker.set_password(broker.users["dashboard"][0], SECRETS["dashboard MQTT password"])
    broker.start()
    http_port = free_port()
    folder = tmp_path / "site"
    folder.mkdir()
    cfg = {
        "site": "hq", "agent_id": "agent-1", "log_level": "DEBUG",
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "username": agent_user,
                 "password": "${MASKWATCH_MQTT_PASSWORD}", "reconnect_min_s": 1, "reconnect_max_s": 2},
        "queue": {"path": str(folder / "queue.sqlite3")},
        "agent": {"stats_interval_s": 2},
        "detector": {"type": "centerface", "input_scale": 0.5},
        "cameras": [
            {"name": "door", "source": {"type": "demo", "fps": 5, "width": 640, "height": 360}, "detect_fps": 2},
            {"name": "ipcam", "source": {"type": "rtsp",
                                         "url": f"rtsp://admin:${{CAM_PASSWORD}}@127.0.0.1:{free_port()}/stream1"},
             "open_timeout_s": 2},
        ],
        "dashboard": {"database_url": f"sqlite:///{folder / 'dashboard.sqlite3'}",
                      "snapshot_dir": str(folder / "snapshots"), "secret_key": "${MASKWATCH_SECRET_KEY}",
                      "port": http_port, "mqtt_username": "dashboard",
                      "mqtt_password": "${MASKWATCH_DASHBOARD_MQTT_PASSWORD}"},
    }
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    wrong = folder / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({**cfg, "agent_id": "agent-2", "cameras": [], "queue": {
        "path": str(folder / "q2.sqlite3")}, "mqtt": {**cfg["mqtt"], "password": SECRETS["wrong agent MQTT password"]}}))

    outputs = [cli("config", "check", "--config", str(config), env=ENV),
               cli("dashboard", "db-upgrade", "--config", str(config), env=ENV),
               cli("dashboard", "create-user", "manager", "--password-stdin", "--config", str(config), env=ENV,
                   stdin=SECRETS["user password"] + "\n")]
    ingest = IngestProcess(config, env=ENV).start()
    serve = Proc(["dashboard", "serve", "--config", str(config)], folder / "serve.log", env=ENV).start()
    agent = AgentProcess(config, env=ENV).start()
    refused = AgentProcess(wrong, env=ENV).start()
    try:
        wait_for(lambda: port_open(http_port), 60, what="dashboard web server")
        assert http_login(http_port, SECRETS["wrong login password"]) == 401
        assert http_login(http_port, SECRETS["user password"]) == 302
        wait_for(lambda: len(query(ingest.db, "SELECT name FROM cameras WHERE state != 'unknown'")) >= 2, 90,
                 what="both cameras' status stored by the ingest")
        wait_for(lambda: "refused" in refused.output().lower() or "not authori" in refused.output().lower(), 30,
                 what="the agent with a wrong password refused")
        wait_for(lambda: "rtsp://" in str(query(ingest.db, "SELECT reason FROM cameras WHERE name = 'ipcam'")), 30,
                 what="the unreachable camera's reason stored")
        reasons = query(ingest.db, "SELECT reason FROM cameras WHERE name = 'ipcam'")
        time.sleep(2.0)  # a few stats and events at DEBUG
    finally:
        for p in (refused, agent, serve, ingest):
            p.stop()
        broker.stop()
    logs = {"agent": agent.output(10**7), "agent with wrong password": refused.output(10**7),
            "ingest": ingest.output(10**7), "web server": serve.output(10**7),
            "mosquitto": broker.log.read_text(errors="replace"), "commands": "\n".join(outputs),
            "camera status in the database": repr(reasons)}
    assert "DEBUG" in logs["agent"], "the agent ran at DEBUG"
    leaks = [(what, where) for what, secret in SECRETS.items() for where, text in logs.items() if secret in text]
    assert not leaks, f"secrets found: {leaks}"
    sizes = {k: len(v) for k, v in logs.items()}
    print(f"no secret in {sum(sizes.values())} characters of logs: {sizes}")
