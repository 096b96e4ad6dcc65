"""Headless Chromium against the real loop for runtime switches: mosquitto + `maskwatch dashboard ingest` +
`maskwatch dashboard serve` + the agent runtime (in-process, fake analysis). An admin turns a camera's
detection off on its page; the command goes over MQTT to the agent, which stops analysing and confirms with
the retained state; the ingest stores it and the page shows it. Then the notification log's "Send test"
reaches a webhook receiver through the ingest's notifier."""

from __future__ import annotations

import os
import uuid

import pytest
import yaml
from dashboard_support import maskwatch, write_config
from helpers import mosquitto as mq
from helpers.agent import RuntimeThread, agent_config
from helpers.browser import ARGS, CHROMIUM, PASSWORD, playwright, wait_for_text
from helpers.net import free_port, port_open, wait_for
from helpers.stack import dashboard_processes, stop_all
from helpers.webhook import Receiver

from tests.agent.test_agent_alerts import camera, fake_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


def test_admin_switches_detection_off_and_on_and_sends_a_test(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sync_playwright = playwright()
    receiver = Receiver()
    broker = mq.Mosquitto(tmp_path / "broker", persistence=False).start()
    http_port = free_port()
    cfg = write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       snapshot_dir=tmp_path / "snaps", mqtt_port=broker.port, http_port=http_port)
    data = yaml.safe_load(cfg.read_text())
    data["dashboard"]["metrics_port"] = None
    data["notifications"] = {"enabled": True, "channels": {"ops": {"url": receiver.url("ops")}},
                             "rules": [{"name": "all", "channels": ["ops"]}]}
    cfg.write_text(yaml.safe_dump(data))
    env = {**os.environ, "MASKWATCH_SECRET_KEY": uuid.uuid4().hex * 2}
    assert maskwatch("dashboard", "db-upgrade", "--config", str(cfg)).returncode == 0
    r = maskwatch("dashboard", "create-user", "admin", "--password-stdin", "--config", str(cfg), input=PASSWORD)
    assert r.returncode == 0, r.stderr
    procs = dashboard_processes(cfg, tmp_path, env)
    agent = RuntimeThread(agent_config(tmp_path / "agent", broker.port, [camera("door")], site="hq",
                                       detector={"type": "fake", "boxes": []}), pipeline_factory=fake_pipeline)
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        wait_for(lambda: port_open(http_port), 30, what="the dashboard server")
        agent.start()
        wait_for(lambda: agent.runtime.runners and agent.runtime.runners[0].frames_total > 2, 30, what="frames")
        runner = agent.runtime.runners[0]
        page = browser.new_context().new_page()
        page.goto(f"http://127.0.0.1:{http_port}/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        wait_for_text(page, "hq/door")
        page.click("text=hq/door")
        page.wait_for_selector("#switches")

        def state_is(name: str, text: str) -> bool:
            page.reload()
            return page.inner_text(f"#switch-{name}-state") == text

        wait_for(lambda: state_is("enabled", "on"), 20, interval=0.5, what="detection announced on")
        page.click("#switch-enabled")
        page.wait_for_selector("text=the agent confirms within a second")
        wait_for(lambda: not runner.detection_enabled, 5, interval=0.05, what="the agent applying it")
        wait_for(lambda: state_is("enabled", "off"), 20, interval=0.5, what="the page showing off")
        frames = runner.frames_total
        page.click("#switch-enabled")  # now "Turn on"
        wait_for(lambda: runner.frames_total > frames + 2, 20, what="analysis again")
        wait_for(lambda: state_is("enabled", "on"), 20, interval=0.5, what="the page showing on")

        page.click("text=Notifications")
        page.click("#send-test")
        page.wait_for_selector("text=Test message queued")
        wait_for(lambda: receiver.requests, 20, what="the test webhook")
        wait_for(lambda: (page.reload() or True) and "sent" in page.inner_text("#notification-log"), 20,
                 interval=0.5, what="the log showing sent")
    finally:
        browser.close()
        pw.stop()
        agent.stop()
        stop_all(procs)
        broker.stop()
        receiver.close()
    assert "test" in receiver.requests[0]["json"]["title"].lower()
