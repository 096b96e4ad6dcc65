"""``maskwatch demo``: broker + agent + dashboard on this machine, in one command (``deploy/demo.sh``).

Broker: mosquitto when installed (started by hand with its own config on a free loopback port), else the
embedded amqtt broker; both with generated passwords and the same per-user ACLs as an installed system.
Camera: the first USB camera if it delivers frames, else the generated demo scene. Config, credentials,
database and logs live under the data dir (``var/demo``). Children run in their own sessions, get SIGTERM
if this process dies (PR_SET_PDEATHSIG) and are stopped in order on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELP = "run broker, agent and dashboard together on this machine (prints the URL and a login)"

SITE, AGENT, PREFIX = "demo-site", "demo-agent", "maskwatch"
AGENT_USER, DASHBOARD_MQTT_USER = "demo-agent", "demo-dashboard"
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=Path("var/demo"), help="config, database, logs (default var/demo)")
    p.add_argument("--host", default="127.0.0.1", help="dashboard listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="dashboard port; taken -> a free one; 0 = any free")
    p.add_argument("--mqtt-port", type=int, default=0, help="broker port on 127.0.0.1 (default: a free one)")
    p.add_argument("--broker", choices=["auto", "mosquitto", "amqtt"], default="auto",
                   help="auto: mosquitto if installed, else the embedded amqtt")
    p.add_argument("--camera", choices=["auto", "usb", "demo"], default="auto",
                   help="auto: /dev/video0 if it delivers frames, else the generated scene")
    p.add_argument("--user", default="admin", help="dashboard login to create (default admin)")
    p.add_argument("--model-card", type=Path, help="classifier model card (default: the packaged model); "
                   "e.g. a model you trained: runs/NAME/model_card.json")
    p.add_argument("--fresh", action="store_true", help="delete the demo's database, queue and logs first")


# ---------------------------------------------------------------- pure helpers
@dataclass(frozen=True, slots=True)
class Secrets:
    dashboard_password: str
    agent_mqtt_password: str
    dashboard_mqtt_password: str
    secret_key: str

    @classmethod
    def load_or_create(cls, path: Path) -> Secrets:
        """Kept across runs (mode 0600) so the printed login stays the same."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            pass
        made = cls(*(secrets.token_urlsafe(n) for n in (12, 24, 24, 32)))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({k: getattr(made, k) for k in cls.__slots__}, f)
        return made

    def child_env(self, base: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in base.items() if k not in ("MASKWATCH_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env.update(
            MASKWATCH_MQTT_USER=AGENT_USER, MASKWATCH_MQTT_PASSWORD=self.agent_mqtt_password,
            MASKWATCH_DASHBOARD_MQTT_USER=DASHBOARD_MQTT_USER,
            MASKWATCH_DASHBOARD_MQTT_PASSWORD=self.dashboard_mqtt_password,
            MASKWATCH_SECRET_KEY=self.secret_key, PYTHONUNBUFFERED="1",
        )
        return env


def acl_rules() -> dict[str, tuple[list[str], list[str]]]:
    """user -> (may publish, may subscribe): the installed system's ACLs (deploy/mosquitto/maskwatch.acl.in)."""
    from edge_agent.core.topics import Topics, all_sites_filter

    own = Topics(PREFIX, SITE).site_filter()
    return {AGENT_USER: ([own], [own]), DASHBOARD_MQTT_USER: ([], [all_sites_filter(PREFIX)])}


def demo_config(data_dir: Path, mqtt_port: int, host: str, port: int, camera: dict[str, Any],
                model_card: Path | None = None) -> dict[str, Any]:
    """The demo's config.yaml as a dict; secrets stay ${VAR} references filled from the children's env."""
    d = data_dir.resolve()
    extra: dict[str, Any] = {"classifier": {"model_card": str(model_card.resolve())}} if model_card else {}
    return {**extra,
        "site": SITE, "agent_id": AGENT, "log_level": "INFO",
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "topic_prefix": PREFIX,
                 "username": "${MASKWATCH_MQTT_USER}", "password": "${MASKWATCH_MQTT_PASSWORD}"},
        "queue": {"path": str(d / "queue.sqlite3")},
        "agent": {"stats_interval_s": 10},
        "cameras": [camera],
        "dashboard": {
            "database_url": f"sqlite:///{d / 'dashboard.sqlite3'}", "snapshot_dir": str(d / "snapshots"),
            "secret_key": "${MASKWATCH_SECRET_KEY}", "host": host, "port": port,
            "mqtt_username": "${MASKWATCH_DASHBOARD_MQTT_USER}",
            "mqtt_password": "${MASKWATCH_DASHBOARD_MQTT_PASSWORD}",
        },
    }


def free_port(host: str = "127.0.0.1", wanted: int = 0) -> int:
    """``wanted`` if it can be bound, else any free port."""
    for port in ([wanted] if wanted else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError(f"no free port on {host}")


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0, alive: Any = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def usb_camera_works(device: str = "/dev/video0", timeout: float = 8.0) -> bool:
    """True if ``device`` is readable and delivers a frame within ``timeout`` (probe in a thread: opens can hang)."""
    if not os.path.exists(device) or not os.access(device, os.R_OK | os.W_OK):
        return False
    result: list[bool] = []

    def probe() -> None:
        import cv2

        cap = cv2.VideoCapture(device)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            result.append(bool(ok) and frame is not None and frame.size > 0)
        finally:
            cap.release()

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def pick_camera(choice: str, probe: Any = usb_camera_works) -> tuple[dict[str, Any], str]:
    if choice == "usb" or (choice == "auto" and probe()):
        return {"name": "usb0", "source": {"type": "usb", "device": "/dev/video0"}, "detect_fps": 5}, \
            "USB camera /dev/video0"
    why = "" if choice == "demo" else " (no USB camera delivering frames at /dev/video0)"
    # Analysed at 640x360: a quarter of the pixels keeps the tracker fed on slow or busy machines (Pi 4).
    return {"name": "demo", "source": {"type": "demo", "fps": 10}, "detect_fps": 5, "width": 640, "height": 360}, \
        f"generated demo scene{why}"


def find_mosquitto() -> tuple[str, str] | None:
    """(mosquitto, mosquitto_passwd) paths; Debian puts the broker in /usr/sbin, often not on a user's PATH."""
    broker = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)
    passwd = shutil.which("mosquitto_passwd")
    return (broker, passwd) if broker and passwd else None


# ---------------------------------------------------------------- brokers (config files + argv)
def custody_settings() -> str:
    """The shipped broker's custody settings (queue bounds, autosave, packet size) from
    deploy/mosquitto/maskwatch.conf.in, so that the demo's broker keeps what it acknowledged as an installed
    one does; empty where the template is not at hand (an installed wheel)."""
    template = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "maskwatch.conf.in"
    keys = ("max_queued_messages", "max_queued_bytes", "autosave_on_changes", "autosave_interval", "max_packet_size")
    try:
        lines = template.read_text().splitlines()
    except OSError:
        return ""
    return "".join(f"{line}\n" for line in lines if line.split(" ", 1)[0] in keys)


def mosquitto_argv(d: Path, port: int, users: dict[str, str], tools: tuple[str, str]) -> list[str]:
    broker, passwd = tools
    pw, acl = d / "mosquitto.passwd", d / "mosquitto.acl"
    pw.unlink(missing_ok=True)
    pw.touch(mode=0o600)
    for user, password in users.items():
        subprocess.run([passwd, "-b", str(pw), user, password], check=True, timeout=30, capture_output=True)
    lines = []
    for user, (pub, sub) in acl_rules().items():
        lines.append(f"user {user}")
        lines += [f"topic {'readwrite' if t in sub else 'write'} {t}" for t in pub]
        lines += [f"topic read {t}" for t in sub if t not in pub]
    acl.write_text("\n".join(lines) + "\n")
    import getpass

    conf = d / "mosquitto.conf"
    conf.write_text(
        f"# maskwatch demo broker (generated)\nuser {getpass.getuser()}\nlog_dest stderr\n"
        f"persistence true\npersistence_location {d}/\n{custody_settings()}"
        f"per_listener_settings false\nallow_anonymous false\npassword_file {pw}\nacl_file {acl}\n"
        f"listener {port} 127.0.0.1\n"
    )
    return [broker, "-c", str(conf)]


def amqtt_argv(d: Path, port: int, users: dict[str, str]) -> list[str]:
    import yaml
    from pwdlib.hashers.argon2 import Argon2Hasher

    hasher = Argon2Hasher()
    pw = d / "amqtt.passwd"
    pw.write_text("".join(f"{u}:{hasher.hash(p)}\n" for u, p in users.items()))
    pw.chmod(0o600)
    rules = acl_rules()
    conf = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(pw)},
            "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                "publish_acl": {u: pub for u, (pub, _) in rules.items()},
                "acl": {u: sub for u, (_, sub) in rules.items()},
            },
        },
    }
    path = d / "amqtt.yaml"
    path.write_text(yaml.safe_dump(conf))
    return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(path)]


# ---------------------------------------------------------------- process supervision
def _pdeathsig() -> Any:
    """A function for ``preexec_fn`` that asks the kernel to SIGTERM the child when the demo dies.

    Looked up in the parent: the child, between fork and exec, must not import anything (import locks)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    stop_timeout: float = 15.0
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], preexec: Any = None) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def tail(self, n: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    preexec: Any = field(default_factory=_pdeathsig)

    def start(self, child: Child, env: dict[str, str]) -> Child:
        child.start(env, self.preexec)
        self.children.append(child)
        return child

    def wait(self) -> Child | None:
        """Until a stop is requested (None) or a child dies (that child)."""
        while not self.stop_requested.wait(0.5):
            for c in self.children:
                if not c.alive():
                    return c
        return None

    def stop_all(self) -> None:
        for c in reversed(self.children):  # agent first (it publishes "stopped"), broker last
            c.stop()


def _run_step(argv: list[str], env: dict[str, str], log: Path, stdin: str | None = None) -> int:
    with log.open("ab") as out:
        return subprocess.run(argv, env=env, input=stdin.encode() if stdin is not None else None,
                              stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False).returncode


# ---------------------------------------------------------------- the command
def run(args: argparse.Namespace) -> int:
    import yaml

    from edge_agent.commands.config_cmd import full_model
    from edge_agent.config import parse_config

    data = args.data_dir.resolve()
    if args.fresh:
        for name in ("dashboard.sqlite3", "queue.sqlite3", "snapshots", "logs"):
            p = data / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    sec = Secrets.load_or_create(data / "credentials.json")
    env = sec.child_env(dict(os.environ))

    tools = find_mosquitto()
    if args.broker == "mosquitto" and tools is None:
        print("maskwatch demo: mosquitto not found (apt-get install mosquitto)", file=sys.stderr)
        return 2
    kind = "mosquitto" if tools is not None and args.broker != "amqtt" else "amqtt"
    mqtt_port = free_port(wanted=args.mqtt_port)
    port = free_port(args.host, args.port)
    camera, camera_note = pick_camera(args.camera)

    config_path = data / "config.yaml"
    cfg_dict = demo_config(data, mqtt_port, args.host, port, camera, args.model_card)
    if kind == "amqtt":  # amqtt speaks MQTT 3.1.1 only: its PUBACKs cannot say "refused" (README, docs/mqtt.md)
        cfg_dict["mqtt"]["protocol"] = "3.1.1"
    parse_config(cfg_dict, env=env, model=full_model())  # every section: fail here, before anything starts
    config_path.write_text("# maskwatch demo config (generated on each run; secrets come from the environment)\n"
                           + yaml.safe_dump(cfg_dict, sort_keys=False))

    users = {AGENT_USER: sec.agent_mqtt_password, DASHBOARD_MQTT_USER: sec.dashboard_mqtt_password}
    argv = mosquitto_argv(data, mqtt_port, users, tools) if kind == "mosquitto" and tools else \
        amqtt_argv(data, mqtt_port, users)
    mw = [sys.executable, "-m", "edge_agent"]
    cfg = ["--config", str(config_path)]
    sup = Supervisor()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sup.stop_requested.set())
    try:
        print(f"maskwatch demo: starting {kind} on 127.0.0.1:{mqtt_port} ...", flush=True)
        broker = sup.start(Child("broker", argv, logs / "broker.log", stop_timeout=10), env)
        if not wait_port(mqtt_port, timeout=30, alive=broker.alive):
            return _failed(broker, "the broker did not start")
        step_log = logs / "setup.log"
        if _run_step(mw + ["dashboard", "db-upgrade", *cfg], env, step_log) != 0:
            return _failed(Child("setup", [], step_log), "database setup failed")
        user_cmd = mw + ["dashboard", "create-user", args.user, "--password-stdin", "--role", "admin", *cfg]
        if _run_step(user_cmd, env, step_log, sec.dashboard_password + "\n") != 0 and \
                _run_step(user_cmd + ["--update"], env, step_log, sec.dashboard_password + "\n") != 0:
            return _failed(Child("setup", [], step_log), "could not create the dashboard user")
        web = sup.start(Child("dashboard", mw + ["dashboard", "serve", *cfg], logs / "dashboard.log"), env)
        sup.start(Child("ingest", mw + ["dashboard", "ingest", *cfg], logs / "ingest.log"), env)
        sup.start(Child("agent", mw + ["agent", *cfg], logs / "agent.log", stop_timeout=30), env)
        if not wait_port(port, args.host if args.host not in ("0.0.0.0", "::") else "127.0.0.1",
                         timeout=90, alive=web.alive):
            return _failed(web, "the dashboard did not start")
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        unconfirmed = "; MQTT 3.1.1: deliveries unconfirmed, install mosquitto for MQTT 5" if kind == "amqtt" else ""
        print(
            "\nMaskWatch demo is running\n"
            f"  dashboard: http://{shown}:{port}/\n"
            f"  user:      {args.user}\n"
            f"  password:  {sec.dashboard_password}\n"
            f"  broker:    {kind} on 127.0.0.1:{mqtt_port} (password auth, per-user ACLs{unconfirmed})\n"
            f"  camera:    {camera_note}\n"
            f"  files:     {data}/ (config.yaml, logs/, credentials.json)\n"
            + "Press Ctrl-C to stop.\n", flush=True)
        dead = sup.wait()
        if dead is not None and not sup.stop_requested.is_set():
            return _failed(dead, f"{dead.name} exited with code {dead.proc.returncode if dead.proc else '?'}")
        print("maskwatch demo: stopping ...", flush=True)
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)  # a second Ctrl-C must not interrupt the clean stop
        sup.stop_all()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)


def _failed(child: Child, why: str) -> int:
    print(f"maskwatch demo: {why}; last lines of {child.log}:\n{child.tail()}", file=sys.stderr, flush=True)
    return 1
