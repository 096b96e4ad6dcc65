"""``maskwatch demo``: unit tests of its parts, its brokers for real, and the whole demo end to end.

The end-to-end tests start ``python -m edge_agent demo`` as a user would, wait for the printed URL, log in
over HTTP with the printed credentials, wait for the demo camera and a violation event to reach the
dashboard, then stop it (SIGINT / SIGTERM / SIGKILL) and check that no child process is left.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.settings import parse_settings
from edge_agent.commands import demo
from edge_agent.core.topics import Topics

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- fast unit tests
def test_secrets_are_created_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "d" / "credentials.json"
    first = demo.Secrets.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert demo.Secrets.load_or_create(path) == first
    assert len({first.dashboard_password, first.agent_mqtt_password, first.dashboard_mqtt_password}) == 3
    path.write_text("not json")
    assert demo.Secrets.load_or_create(path) != first  # unreadable -> regenerated


def test_child_env_carries_secrets_and_drops_inherited_config() -> None:
    s = demo.Secrets("a", "b", "c", "d")
    env = s.child_env({"MASKWATCH_CONFIG": "/etc/other.yaml", "NOTIFY_SOCKET": "/run/x", "PATH": "/bin"})
    assert "MASKWATCH_CONFIG" not in env and "NOTIFY_SOCKET" not in env and env["PATH"] == "/bin"
    assert env["MASKWATCH_MQTT_PASSWORD"] == "b" and env["MASKWATCH_DASHBOARD_MQTT_PASSWORD"] == "c"
    assert env["MASKWATCH_SECRET_KEY"] == "d"


def test_demo_config_validates_and_keeps_secrets_out_of_the_file(tmp_path: Path) -> None:
    s = demo.Secrets("pw-Q1", "pw-Q2", "pw-Q3", "pw-Q4")
    camera, _ = demo.pick_camera("demo")
    data = demo.demo_config(tmp_path, 1884, "127.0.0.1", 8081, camera)
    assert "pw-Q" not in json.dumps(data)
    cfg = parse_settings(data, env=s.child_env({}))
    assert cfg.mqtt.port == 1884 and cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "pw-Q2"
    assert cfg.dashboard.port == 8081 and cfg.dashboard.database_url.endswith("dashboard.sqlite3")
    assert cfg.cameras[0].source.type == "demo"
    assert Path(cfg.queue.path).is_absolute()


@pytest.mark.parametrize(("choice", "probe", "kind"), [
    ("auto", True, "usb"), ("auto", False, "demo"), ("demo", True, "demo"), ("usb", False, "usb"),
])
def test_pick_camera(choice: str, probe: bool, kind: str) -> None:
    camera, note = demo.pick_camera(choice, probe=lambda: probe)
    assert camera["source"]["type"] == kind
    assert note.startswith("USB") == (kind == "usb")


def test_usb_probe_is_false_without_a_device() -> None:
    assert demo.usb_camera_works("/dev/video-does-not-exist") is False


def test_free_port_prefers_the_wanted_port_and_avoids_taken_ones() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert demo.free_port(wanted=busy) != busy
    wanted = demo.free_port()
    assert demo.free_port(wanted=wanted) == wanted


def test_acl_rules_match_the_topic_layout() -> None:
    rules = demo.acl_rules()
    pub, sub = rules[demo.AGENT_USER]
    assert pub == [Topics(demo.PREFIX, demo.SITE).site_filter()] and sub == pub
    pub, sub = rules[demo.DASHBOARD_MQTT_USER]
    assert pub == [] and sub == ["maskwatch/#"]


def test_supervisor_reports_a_dead_child_and_stops_the_others(tmp_path: Path) -> None:
    sup = demo.Supervisor()
    env = dict(os.environ)
    long = sup.start(demo.Child("long", ["sleep", "60"], tmp_path / "long.log"), env)
    short = sup.start(demo.Child("short", [sys.executable, "-c", "print('bye'); raise SystemExit(3)"],
                                 tmp_path / "short.log"), env)
    assert sup.wait() is short and short.proc is not None and short.proc.returncode == 3
    assert "bye" in short.tail()
    sup.stop_all()
    assert long.proc is not None and long.proc.returncode == -signal.SIGTERM


def test_children_get_sigterm_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a ``kill -9`` of the demo must not leave its children running."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from edge_agent.commands import demo\n"
        "sup = demo.Supervisor()\n"
        f"c = sup.start(demo.Child('sleep', ['sleep', '120'], Path({str(tmp_path / 'c.log')!r})), dict(os.environ))\n"
        f"Path({str(pid_file)!r}).write_text(str(c.proc.pid))\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the child outlived its killed parent"


# ---------------------------------------------------------------- the brokers, for real
class Client:
    """paho client (MQTT 3.1.1) that waits for CONNACK (bounded) and records messages."""

    def __init__(self, port: int, user: str | None, password: str | None) -> None:
        import paho.mqtt.client as mqtt

        self.connected = threading.Event()
        self.reason = ""
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv311)
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.ok = self.connected.wait(15) and self.reason == "Success"

    def _on_connect(self, client, userdata, flags, rc, props) -> None:  # noqa: ANN001
        self.reason = str(rc)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(15)

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(15)

    def wait_payload(self, payload: bytes, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while payload not in [p for _, p in self.messages]:
                if time.monotonic() >= deadline:
                    return False
                self.cond.wait(deadline - time.monotonic())
            return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(params=["mosquitto", "amqtt"])
def demo_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    port = demo.free_port()
    users = {demo.AGENT_USER: "agent-pw", demo.DASHBOARD_MQTT_USER: "dash-pw"}
    if request.param == "mosquitto":
        tools = demo.find_mosquitto()
        if tools is None:
            pytest.skip("mosquitto not installed (apt-get install mosquitto)")
        argv = demo.mosquitto_argv(tmp_path, port, users, tools)
    else:
        pytest.importorskip("amqtt", reason="amqtt not installed (pip install 'maskwatch[broker]')")
        argv = demo.amqtt_argv(tmp_path, port, users)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert demo.wait_port(port, timeout=30, alive=lambda: proc.poll() is None), f"{request.param} did not start"
        yield port, users
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.integration
def test_demo_broker_enforces_passwords_and_acls(demo_broker: tuple[int, dict[str, str]]) -> None:
    port, users = demo_broker
    anon = Client(port, None, None)
    wrong = Client(port, demo.AGENT_USER, "wrong")
    try:
        assert not anon.ok and not wrong.ok
    finally:
        anon.close()
        wrong.close()
    dash = Client(port, demo.DASHBOARD_MQTT_USER, users[demo.DASHBOARD_MQTT_USER])
    agent = Client(port, demo.AGENT_USER, users[demo.AGENT_USER])
    try:
        assert dash.ok and agent.ok, (dash.reason, agent.reason)
        dash.subscribe("maskwatch/#")
        agent.publish(Topics("maskwatch", "other-site").camera("cam", "event"), b"forged")
        dash.publish(Topics("maskwatch", demo.SITE).camera("cam", "event"), b"dash-forged")
        agent.publish(Topics("maskwatch", demo.SITE).camera("cam", "event"), b"sentinel")
        assert dash.wait_payload(b"sentinel"), "the agent's own-site message did not arrive"
        assert [p for _, p in dash.messages] == [b"sentinel"]
    finally:
        dash.close()
        agent.close()


# ---------------------------------------------------------------- the whole demo
#: A model card to run the end-to-end tests with before the packaged model exists (e.g. runs/NAME/model_card.json).
MODEL_ENV = "MASKWATCH_DEMO_TEST_MODEL_CARD"


def _model_args() -> list[str]:
    if os.environ.get(MODEL_ENV):
        return ["--model-card", os.environ[MODEL_ENV]]
    if not (REPO / "edge_agent" / "models" / "model_card.json").exists():
        pytest.skip(f"no packaged classifier (edge_agent/models/model_card.json) in this checkout yet; set {MODEL_ENV}")
    return []


def _needs_full_stack() -> list[str]:
    if demo.find_mosquitto() is None:
        pytest.skip("mosquitto not installed: the dashboard ingest speaks MQTT 5, which amqtt does not")
    return _model_args()


def _children(pid: int) -> set[int]:
    out = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        m = re.search(r"^PPid:\s+(\d+)$", text, re.M)
        if m and int(m.group(1)) == pid:
            out.add(int(status.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = re.search(r"^State:\s+(\S)", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return False
    return bool(state) and state.group(1) != "Z"


class RunningDemo:
    """``python -m edge_agent demo`` as a user starts it, with its output collected."""

    def __init__(self, data_dir: Path, extra: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "demo", "--data-dir", str(data_dir), "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            env={k: v for k, v in os.environ.items() if k != "MASKWATCH_CONFIG"},
        )
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.banner = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("Press Ctrl-C"):
                self.banner.set()

    def output(self) -> str:
        logs = "".join(f"\n--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                       for p in sorted((self.data_dir / "logs").glob("*.log")))
        return "".join(self.lines) + logs

    def wait_banner(self, timeout: float = 180) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not self.banner.wait(0.5):
            assert self.proc.poll() is None, "demo exited early:\n" + self.output()
            assert time.monotonic() < deadline, "no URL printed:\n" + self.output()
        text = "".join(self.lines)
        return {k: re.search(rf"^\s+{k}:\s+(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
                for k in ("dashboard", "user", "password")}

    def stop(self, sig: int, timeout: float = 90) -> tuple[int, set[int], set[int]]:
        """Send ``sig``; return the exit code, the children it had, and those still alive afterwards."""
        kids = _children(self.proc.pid)
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in kids) and time.monotonic() < deadline:
            time.sleep(0.2)
        return rc, kids, {p for p in kids if _alive(p)}

    def kill(self) -> None:
        if self.proc.poll() is None:
            kids = _children(self.proc.pid)
            self.proc.kill()
            self.proc.wait(10)
            for p in kids:
                if _alive(p):
                    os.kill(p, signal.SIGKILL)


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[RunningDemo]:
    d = RunningDemo(tmp_path / "demo", _needs_full_stack())
    try:
        yield d
    finally:
        d.kill()


@pytest.fixture(scope="module")
def shared_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    """One demo for the ordered end-to-end tests below (login, camera, event, Ctrl-C)."""
    d = RunningDemo(tmp_path_factory.mktemp("demo"), _needs_full_stack())
    try:
        yield d
    finally:
        d.kill()


def _login(base: str, user: str, password: str) -> urllib.request.OpenerDirector | None:
    """An opener holding the session cookie, or None if the login was refused."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "username": user, "password": password})
    try:
        resp = opener.open(base + "login", data=form.encode(), timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 401, err
        return None
    return opener if resp.status == 200 and not resp.url.endswith("/login") else None


def _poll_json(opener: urllib.request.OpenerDirector, url: str, ok, timeout: float, why: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = json.loads(opener.open(url, timeout=30).read())
        if ok(body):
            return body
        time.sleep(1)
    pytest.fail(f"{why} within {timeout}s ({url}); last answer {body}")



class TestDemoEndToEnd:
    """In order, on one running demo."""

    opener: urllib.request.OpenerDirector
    base: str

    @pytest.mark.integration
    @pytest.mark.slow
    def test_prints_url_and_credentials_that_log_in(self, shared_demo: RunningDemo) -> None:
        banner = shared_demo.wait_banner()
        base = banner["dashboard"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base)
        assert _login(base, banner["user"], banner["password"] + "x") is None, "a wrong password was accepted"
        opener = _login(base, banner["user"], banner["password"])
        assert opener is not None, "login with the printed credentials failed"
        type(self).opener, type(self).base = opener, base

    @pytest.mark.integration
    @pytest.mark.slow
    def test_demo_camera_comes_online(self, shared_demo: RunningDemo) -> None:
        if not hasattr(type(self), "opener"):
            pytest.skip("login failed")

        def online(b: dict) -> bool:
            return any(c["name"] == "demo" and c["state"] == "online" and c["agent_availability"] == "online"
                       for c in b["items"])

        _poll_json(self.opener, self.base + "api/v1/cameras", online, 120, "the demo camera did not come online")

    @pytest.mark.integration
    @pytest.mark.slow
    def test_a_violation_event_arrives(self, shared_demo: RunningDemo) -> None:
        if not hasattr(type(self), "opener"):
            pytest.skip("login failed")
        body = _poll_json(self.opener, self.base + "api/v1/events", lambda b: len(b["items"]) > 0, 180,
                          "no violation event reached the dashboard")
        assert body["items"][0]["camera"] == "demo"
        assert body["items"][0]["verdict"] in ("without_mask", "mask_incorrect")

    @pytest.mark.integration
    @pytest.mark.slow
    def test_ctrl_c_stops_everything(self, shared_demo: RunningDemo) -> None:
        shared_demo.wait_banner()
        rc, kids, left = shared_demo.stop(signal.SIGINT)
        assert rc == 0, shared_demo.output()
        assert len(kids) >= 4, f"expected broker, dashboard, ingest and agent; got {kids}"
        assert not left, f"children still running after Ctrl-C: {left}"
        assert "stopping" in "".join(shared_demo.lines)


@pytest.mark.integration
@pytest.mark.slow
def test_demo_stops_cleanly_on_sigterm(running_demo: RunningDemo) -> None:
    running_demo.wait_banner()
    rc, kids, left = running_demo.stop(signal.SIGTERM)
    assert rc == 0 and len(kids) >= 4 and not left, (rc, kids, left, running_demo.output())


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.fault
def test_demo_children_die_with_a_killed_demo(running_demo: RunningDemo) -> None:
    """SIGKILL gives the demo no chance to clean up: PR_SET_PDEATHSIG must still end every child."""
    running_demo.wait_banner()
    rc, kids, left = running_demo.stop(signal.SIGKILL)
    assert rc == -signal.SIGKILL and len(kids) >= 4
    assert not left, f"orphans after the demo was killed: {left}"


def test_demo_sh_runs_maskwatch_demo() -> None:
    text = (REPO / "deploy" / "demo.sh").read_text()
    assert "pip install" in text and "'.[dashboard,broker]'" in text
    assert re.search(r'^exec "\$VENV/bin/maskwatch" demo "\$@"$', text, re.M)
    if shutil.which("bash"):
        out = subprocess.run(["bash", "-n", str(REPO / "deploy" / "demo.sh")], capture_output=True, timeout=30,
                             check=False)
        assert out.returncode == 0
