"""The whole product as a user runs it, for fault tests and benchmarks: ``maskwatch agent`` and
``maskwatch dashboard ingest`` as subprocesses (config files, real mosquitto from helpers.mosquitto), the
dashboard database read back, and a process's CPU time and RSS from /proc."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float  # user + system CPU seconds of the process (all threads)
    rss_mb: float
    at: float  # monotonic


def proc_sample(pid: int) -> ProcSample:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * PAGE / 2**20
    return ProcSample(cpu, rss, time.monotonic())


def _merge(cfg: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) and isinstance(cfg.get(key), dict) else value
    return cfg


def write_agent_config(folder: Path, broker_port: int, cameras: list[dict[str, Any]],
                       health_port: int | None = None, **extra: Any) -> Path:
    """``maskwatch agent`` config: real CenterFace + the packaged int8 classifier unless ``detector`` given."""
    cfg: dict[str, Any] = {
        "site": "bench", "agent_id": "agent-1", "log_level": "INFO",
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 1, "reconnect_max_s": 2,
                 "keepalive_s": 5},
        "detector": {"type": "centerface"},
        "queue": {"path": str(folder / "queue.sqlite3")},
        "agent": {"stats_interval_s": 5, **({"health_port": health_port} if health_port else {})},
        "cameras": cameras,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(_merge(cfg, extra)))
    return path


def write_dashboard_config(folder: Path, broker_port: int, **dashboard: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"site": "dash", "agent_id": "dash", "log_level": "INFO",
           "mqtt": {"host": "127.0.0.1", "port": broker_port, "keepalive_s": 5},
           "dashboard": {"database_url": f"sqlite:///{folder / 'dashboard.sqlite3'}",
                         "snapshot_dir": str(folder / "snapshots"), "metrics_port": None, **dashboard}}
    path = folder / "dashboard.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class Proc:
    """A ``python -m edge_agent ...`` subprocess with its output in a log file; optional ``taskset -c`` and
    ``nice -n`` (a negative value, as root, emulates a dedicated device on a shared machine)."""

    def __init__(self, args: list[str], log: Path, cpus: str | None = None,
                 env: dict[str, str] | None = None, nice: int | None = None) -> None:
        self.args, self.log, self.cpus, self.nice = args, log, cpus, nice
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        cmd = [sys.executable, "-m", "edge_agent", *self.args] if self.args[0] != "--script" else \
            [sys.executable, *self.args[1:]]
        if self.cpus is not None:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        if self.nice is not None:  # every thread inherits it (setpriority on a pid reaches one thread only)
            cmd = ["nice", "-n", str(self.nice), *cmd]
        self._logf = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self._logf, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a power cut."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)
        self._logf.close()

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self._logf.closed:
            self._logf.close()
        return self.proc.returncode

    def output(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


class AgentProcess(Proc):
    """``maskwatch agent --config FILE``; ``scripted=True`` runs helpers/fake_agent_main.py instead: the real
    runtime with scripted analysis (steady violations whatever the load)."""

    def __init__(self, config: Path, health_port: int | None = None, scripted: bool = False, **kw: Any) -> None:
        args = (["--script", str(Path(__file__).with_name("fake_agent_main.py")), str(config)] if scripted
                else ["agent", "--config", str(config)])
        super().__init__(args, config.with_suffix(".log"), **kw)
        self.health_port = health_port

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:  # noqa: S310
            return json.loads(r.read())

    def try_health(self) -> dict[str, Any] | None:
        try:
            return self.health()
        except OSError:
            return None


class IngestProcess(Proc):
    """``maskwatch dashboard ingest --upgrade`` with a fixed client id (its broker session survives restarts)."""

    def __init__(self, config: Path, client_id: str = "ingest-under-test", **kw: Any) -> None:
        super().__init__(["dashboard", "ingest", "--upgrade", "--config", str(config), "--client-id", client_id],
                         config.with_name("ingest.log"), **kw)
        self.db = config.parent / "dashboard.sqlite3"

    def events(self) -> list[tuple[str, str, str]]:
        """(event_id, time, received_at) of every stored event; [] before the schema exists."""
        return query(self.db, "SELECT event_id, time, received_at FROM events")

    def counters(self) -> dict[str, int]:
        rows = query(self.db, "SELECT name, SUM(value) FROM ingest_counters GROUP BY name")
        return {name: int(v) for name, v in rows}


def dashboard_processes(config: Path, logs: Path, env: dict[str, str] | None = None,
                        actions: tuple[str, ...] = ("ingest", "serve")) -> list[Proc]:
    """``maskwatch dashboard ingest`` and ``serve`` (or ``actions``) started as processes, each logging to
    ``logs/<action>.log`` (the browser tests' stack)."""
    return [Proc(["dashboard", action, "--config", str(config)], logs / f"{action}.log", env=env).start()
            for action in actions]


def stop_all(procs: list[Proc], timeout: float = 20.0) -> None:
    """SIGTERM to every process first (they shut down side by side), then wait for each; kill what outlives
    ``timeout``."""
    for p in procs:
        if p.alive:
            assert p.proc is not None
            p.proc.terminate()
    for p in procs:
        p.stop(timeout)


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Read the dashboard's SQLite file (read-only, short busy timeout); [] if it or the table is missing."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
