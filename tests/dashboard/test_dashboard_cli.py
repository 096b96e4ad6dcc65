"""``maskwatch dashboard ...`` as the demo and the installer run it: real processes, real config files."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from dashboard_support import REPO, event, maskwatch, raw, topic, write_config
from helpers.net import free_port, port_open, wait_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.db import head_revision, make_engine
from dashboard.ingest import Ingester, Received
from dashboard.messages import classify
from dashboard.models import Event, User

SECRET = {"MASKWATCH_SECRET_KEY": "k" * 64}


@pytest.fixture
def cfg(tmp_path):
    return write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                        snapshot_dir=tmp_path / "snaps", http_port=free_port(), retention_days=7)


def test_commands_refuse_an_empty_database(cfg):
    r = maskwatch("dashboard", "create-user", "alice", "--config", str(cfg))
    assert r.returncode == 2 and "db-upgrade" in r.stderr


@pytest.mark.slow
def test_db_upgrade_create_user_token_and_purge(cfg, tmp_path):
    r = maskwatch("dashboard", "db-upgrade", "--config", str(cfg))
    assert r.returncode == 0 and f"database at schema {head_revision()}" in r.stdout
    assert maskwatch("dashboard", "db-upgrade", "--config", str(cfg)).returncode == 0  # idempotent

    r = maskwatch("dashboard", "create-user", "alice", "--config", str(cfg))
    assert r.returncode == 0
    generated = r.stdout.strip()
    assert len(generated) >= 16 and "\n" not in generated  # the password alone on stdout
    r = maskwatch("dashboard", "create-user", "alice", "--config", str(cfg))
    assert r.returncode == 1 and "exists" in r.stderr
    r = maskwatch("dashboard", "create-user", "bob", "--password-stdin", "--config", str(cfg),
                  input="a long enough password\n")
    assert r.returncode == 0 and r.stdout == ""
    r = maskwatch("dashboard", "create-user", "carol", "--password-stdin", "--config", str(cfg), input="short\n")
    assert r.returncode == 1 and "too short" in r.stderr
    r = maskwatch("dashboard", "create-token", "bob", "--config", str(cfg))
    assert r.returncode == 0 and r.stdout.startswith("mw_")

    r = maskwatch("dashboard", "create-user", "carol", "--password-stdin", "--config", str(cfg),
                  input="carol's long password\n")
    assert r.returncode == 0
    assert maskwatch("dashboard", "delete-user", "carol", "--config", str(cfg)).returncode == 0
    assert maskwatch("dashboard", "delete-user", "carol", "--config", str(cfg)).returncode == 1

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with Session(engine) as db:
        users = {u.name: u for u in db.scalars(select(User))}
    assert set(users) == {"alice", "bob"}
    assert generated not in users["alice"].password_hash and users["alice"].password_hash.startswith("scrypt:")

    # an event received 8 days ago (retention counts from the receive time, issue 13) and one received now
    old = datetime.now(UTC) - timedelta(days=8)
    ingester = Ingester(engine, tmp_path / "snaps", "maskwatch")
    ingester.store.write([classify("maskwatch", topic("event"), raw(event("old", time=old.isoformat())))], now=old)
    ingester.process([Received(topic("event"), raw(event("new")))])
    r = maskwatch("dashboard", "purge", "--config", str(cfg))
    assert r.returncode == 0 and "1 events and 0 stats samples (7 days)" in r.stdout, r.stdout
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 1


def test_serve_refuses_without_secret_key(cfg):
    maskwatch("dashboard", "db-upgrade", "--config", str(cfg))
    r = maskwatch("dashboard", "serve", "--config", str(cfg), env={"MASKWATCH_SECRET_KEY": ""})
    assert r.returncode == 2 and "secret_key" in r.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_serve_runs_waitress_and_requires_login(cfg):
    import yaml

    port = yaml.safe_load(cfg.read_text())["dashboard"]["port"]
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent", "dashboard", "serve", "--upgrade", "--config",
                             str(cfg)], cwd=REPO, env={**__import__("os").environ, **SECRET},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, 30, what="the dashboard port")
        assert proc.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as resp:
            assert resp.status == 200 and resp.headers["Server"] == "maskwatch"
            assert b'name="csrf_token"' in resp.read()
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(f"http://127.0.0.1:{port}/violations", timeout=10)
        assert err.value.code == 302 and err.value.headers["Location"].startswith("/login")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "serving the dashboard" in out


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None
