"""Proof of the installer: install for real into a throwaway root, upgrade, then run what it installed.

deploy/install.sh --root DIR writes a self-contained tree (paths inside the files point into DIR). The test
builds the tree's virtualenv the way users do (python -m venv + pip install of the checkout) but, to stay
fast and offline, lets it see this venv's dependencies (--deps-from). Then a real mosquitto runs with the
config, password file and ACL the installer wrote, and the installed agent runs against it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.mosquitto import read_env
from helpers.net import free_port

from edge_agent.config import parse_config, read_config_file
from edge_agent.core.topics import Topics

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"
SITE, AGENT = "lobby", "door-1"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None,
                       reason="mosquitto not installed (apt-get install mosquitto mosquitto-clients)"),
]


def run_installer(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert out.returncode == 0, f"install.sh failed:\n{out.stdout}\n{out.stderr}"
    return out


def merged_env(etc: Path) -> dict[str, str]:
    env = read_env(etc / "maskwatch.env")
    if (etc / "dashboard.env").exists():
        env.update({k: v for k, v in read_env(etc / "dashboard.env").items() if v})
    return env


@dataclass
class Installed:
    root: Path
    port: int
    first_env: dict[str, str]
    upgrade_output: str

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "maskwatch"

    @property
    def env(self) -> dict[str, str]:
        """Every service's settings together (the agent's file, then the dashboard's non-empty values)."""
        return merged_env(self.etc)

    @property
    def agent_env(self) -> dict[str, str]:
        return read_env(self.etc / "maskwatch.env")

    @property
    def maskwatch(self) -> Path:
        return self.root / "opt" / "maskwatch" / "venv" / "bin" / "maskwatch"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Install, edit the config as an admin would, then run the installer again (the upgrade path)."""
    root = tmp_path_factory.mktemp("root")
    port = free_port()
    args = ["--site", SITE, "--agent-id", AGENT, "--mqtt-port", str(port), "--python", sys.executable,
            "--deps-from", sys.prefix]
    run_installer(root, *args)
    config = root / "etc" / "maskwatch" / "config.yaml"
    config.write_text(config.read_text() + "# edited by the admin\n")
    first_env = merged_env(root / "etc" / "maskwatch")
    upgrade = run_installer(root, *args)
    return Installed(root, port, first_env, upgrade.stdout)


# ---------------------------------------------------------------- the installed tree
def test_tree_has_the_files_with_safe_modes(installed: Installed) -> None:
    r = installed.root
    modes = {
        "etc/maskwatch/maskwatch.env": 0o640,
        "etc/maskwatch/dashboard.env": 0o640,
        "var/lib/maskwatch-dashboard": 0o750,
        "etc/maskwatch/config.yaml": 0o644,
        "etc/mosquitto/maskwatch.passwd": 0o600,
        "etc/mosquitto/maskwatch.acl": 0o640,
        "var/lib/maskwatch": 0o750,
        "etc/systemd/system/maskwatch-agent.service": 0o644,
        "etc/systemd/system/maskwatch-dashboard.service": 0o644,
        "etc/systemd/system/maskwatch-ingest.service": 0o644,
    }
    for rel, mode in modes.items():
        assert (r / rel).exists(), rel
        assert (r / rel).stat().st_mode & 0o777 == mode, f"{rel}: {oct((r / rel).stat().st_mode & 0o777)}"
    assert installed.maskwatch.exists()
    out = subprocess.run([str(installed.maskwatch), "--version"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0 and "maskwatch" in out.stdout


def test_venv_has_no_tensorflow(installed: Installed) -> None:
    py = installed.root / "opt" / "maskwatch" / "venv" / "bin" / "python"
    out = subprocess.run([str(py), "-c", "import importlib.util as u; import edge_agent; "
                          "print(u.find_spec('tensorflow') is None, edge_agent.__file__)"],
                         capture_output=True, text=True, timeout=60, check=False, cwd=installed.root)
    assert out.returncode == 0, out.stderr
    no_tf, where = out.stdout.split()
    assert where.startswith(str(installed.root)), "the installed venv must run its own copy of the agent"
    if importlib.util.find_spec("tensorflow") is None:
        assert no_tf == "True"


def test_secrets_are_generated_and_kept_on_upgrade(installed: Installed) -> None:
    env = installed.env
    for key in ["MASKWATCH_MQTT_PASSWORD", "MASKWATCH_DASHBOARD_MQTT_PASSWORD", "MASKWATCH_SECRET_KEY"]:
        assert len(env[key]) >= 32, key
        assert env[key] == installed.first_env[key], f"{key} changed on upgrade"
    assert env["MASKWATCH_MQTT_PASSWORD"] != env["MASKWATCH_DASHBOARD_MQTT_PASSWORD"]
    assert env["MASKWATCH_MQTT_USER"] == f"agent-{SITE}-{AGENT}"
    assert env["MASKWATCH_MQTT_PORT"] == str(installed.port)
    # No secret in any file a non-service user can read.
    for path in installed.root.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o004 and "venv" not in path.parts:
            text = path.read_text(errors="replace")
            assert env["MASKWATCH_MQTT_PASSWORD"] not in text, path
            assert env["MASKWATCH_SECRET_KEY"] not in text, path


def unit_env_files(unit: Path) -> list[Path]:
    return [Path(line.split("=", 1)[1].lstrip("-")) for line in unit.read_text().splitlines()
            if line.startswith("EnvironmentFile=")]


def test_each_service_gets_only_its_own_secrets(installed: Installed) -> None:
    """The agent (which parses untrusted RTSP) gets neither SECRET_KEY nor the dashboard's MQTT password, and
    its user cannot read the dashboard's file; the dashboard does not get the agent's MQTT password."""
    env, units = installed.env, installed.root / "etc/systemd/system"
    agent_files = unit_env_files(units / "maskwatch-agent.service")
    assert agent_files == [installed.etc / "maskwatch.env"]
    agent_text = "".join(p.read_text() for p in agent_files)
    assert env["MASKWATCH_SECRET_KEY"] not in agent_text
    assert env["MASKWATCH_DASHBOARD_MQTT_PASSWORD"] not in agent_text
    for unit in ("maskwatch-dashboard.service", "maskwatch-ingest.service"):
        files = unit_env_files(units / unit)
        assert files == [installed.etc / "dashboard.env"], unit
        assert env["MASKWATCH_MQTT_PASSWORD"] not in files[0].read_text()
        text = (units / unit).read_text()
        assert "User=maskwatch-web" in text and "ReadWritePaths=" + str(installed.root / "var/lib/maskwatch-dashboard") in text
    # the agent loads the shared config with its own file alone (the dashboard's names are empty there)
    cfg = parse_config(read_config_file(installed.etc / "config.yaml"), env=installed.agent_env)
    assert cfg.mqtt.password is not None and cfg.dashboard.secret_key is None and cfg.dashboard.mqtt_password is None


def test_a_real_install_gives_the_dashboard_file_to_another_user() -> None:
    """A real install (dry run: what it would do as root) makes a separate user for the dashboard, and its
    secrets file belongs to that user's group, not to the agent's."""
    out = subprocess.run([str(INSTALL), "--dry-run", "--skip-apt", "--skip-venv", "--site", SITE],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "would write: /etc/maskwatch/dashboard.env (mode 0640, owner root:maskwatch-web)" in out.stdout
    assert "would write: /etc/maskwatch/maskwatch.env (mode 0640, owner root:maskwatch)" in out.stdout
    if subprocess.run(["id", "maskwatch-web"], capture_output=True, check=False).returncode != 0:
        assert "useradd --system --home-dir /var/lib/maskwatch-dashboard" in out.stdout
    assert "usermod -a -G maskwatch-web" not in out.stdout


def test_config_is_kept_on_upgrade_and_validates(installed: Installed) -> None:
    config = installed.etc / "config.yaml"
    assert config.read_text().endswith("# edited by the admin\n")
    assert f"kept {config}" in installed.upgrade_output
    cfg = parse_config(read_config_file(config), env=installed.env)
    assert (cfg.site, cfg.agent_id) == (SITE, AGENT)
    assert cfg.mqtt.username == f"agent-{SITE}-{AGENT}" and cfg.mqtt.port == installed.port
    assert cfg.mqtt.tls.enabled is False
    assert cfg.queue.path == installed.root / "var/lib/maskwatch/queue.sqlite3"
    assert [c.source.type for c in cfg.cameras] == ["demo"]
    assert (cfg.agent.health_port, cfg.agent.health_host) == (9101, "127.0.0.1")  # on, loopback only


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (apt-get install systemd)")
def test_installed_units_pass_systemd_analyze(installed: Installed) -> None:
    units = sorted((installed.root / "etc/systemd/system").glob("maskwatch-*.service"))
    assert len(units) == 3
    for unit in units:
        assert f"ExecStart={installed.maskwatch} " in unit.read_text()
        out = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True,
                             text=True, timeout=60, check=False)
        assert out.returncode == 0 and out.stderr.strip() == "", f"{unit.name}: {out.stderr}"


# ---------------------------------------------------------------- the broker it configured
@pytest.fixture(scope="module")
def installed_broker(installed: Installed) -> Iterator[int]:
    conf = installed.root / "etc" / "mosquitto" / "mosquitto.conf"
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(installed.port, proc)
        yield installed.port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"mosquitto exited with {proc.returncode}:\n{out}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"mosquitto did not listen on {port} within {timeout}s")


class Client:
    """A paho client that waits (bounded) for CONNACK and records messages."""

    def __init__(self, port: int, user: str | None, password: str | None, tls_ca: Path | None = None,
                 host: str = "127.0.0.1") -> None:
        import paho.mqtt.client as mqtt

        self.connected = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.got = threading.Condition()
        self.reason: str | None = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        if user is not None:
            self.c.username_pw_set(user, password)
        if tls_ca is not None:
            self.c.tls_set(ca_certs=str(tls_ca), cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.connect(host, port, keepalive=30)
        self.c.loop_start()
        self.ok = self.connected.wait(10) and self.reason == "Success"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.reason = str(reason_code)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        with self.got:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.got.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(10)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        with self.got:
            while not any(predicate(t, p) for t, p in self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.got.wait(left)
            return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def dashboard_client(installed: Installed, installed_broker: int) -> Iterator[Client]:
    env = installed.env
    c = Client(installed_broker, env["MASKWATCH_DASHBOARD_MQTT_USER"], env["MASKWATCH_DASHBOARD_MQTT_PASSWORD"])
    assert c.ok, f"dashboard user refused: {c.reason}"
    c.subscribe("maskwatch/#")
    yield c
    c.close()


@pytest.mark.parametrize("creds", [None, ("agent-lobby-door-1", "wrong-password"), ("nobody", "x")],
                         ids=["anonymous", "wrong-password", "unknown-user"])
def test_broker_refuses_unauthenticated_clients(installed_broker: int, creds: tuple[str, str] | None) -> None:
    c = Client(installed_broker, *(creds or (None, None)))
    try:
        assert not c.ok
        assert c.reason is not None and "authori" in c.reason.lower(), c.reason
    finally:
        c.close()


def test_agent_may_publish_only_its_own_site(installed: Installed, dashboard_client: Client) -> None:
    env = installed.env
    agent = Client(installed.port, env["MASKWATCH_MQTT_USER"], env["MASKWATCH_MQTT_PASSWORD"])
    assert agent.ok, f"agent credentials refused: {agent.reason}"
    topics = Topics("maskwatch", SITE)
    other = Topics("maskwatch", "other-site")
    try:
        agent.publish(other.camera("cam", "event"), b"forged")       # denied by the ACL (silently dropped)
        agent.publish("elsewhere/topic", b"forged")                  # outside the prefix: denied
        dashboard_client.publish(topics.camera("cam", "event"), b"dashboard-forged")   # dashboard: read only
        agent.publish(topics.camera("cam", "event"), b"sentinel")    # allowed, and ordered after the others
        assert dashboard_client.wait_for(lambda t, p: p == b"sentinel"), "allowed message never arrived"
        payloads = [p for _, p in dashboard_client.messages]
        assert b"forged" not in payloads and b"dashboard-forged" not in payloads
    finally:
        agent.close()


def test_dashboard_may_command_switches_and_publish_home_assistant_discovery(installed: Installed,
                                                                            dashboard_client: Client) -> None:
    env = installed.env
    agent = Client(installed.port, env["MASKWATCH_MQTT_USER"], env["MASKWATCH_MQTT_PASSWORD"])
    assert agent.ok, f"agent credentials refused: {agent.reason}"
    topics = Topics("maskwatch", SITE)
    try:
        agent.subscribe(topics.switch_filter())
        dashboard_client.subscribe("homeassistant/#")
        dashboard_client.publish(topics.switch("cam", "enabled", "set"), b"OFF")
        assert agent.wait_for(lambda t, p: t == topics.switch("cam", "enabled", "set") and p == b"OFF")
        dashboard_client.publish(topics.switch("cam", "notifications", "set"), b"ON")
        assert agent.wait_for(lambda t, p: t.endswith("/notifications/set") and p == b"ON")
        dashboard_client.publish("homeassistant/switch/maskwatch_x/enabled/config", b"{}")
        assert dashboard_client.wait_for(lambda t, p: t.startswith("homeassistant/switch/"))
        dashboard_client.publish(topics.ha("cam", "state"), b"{}")
        assert dashboard_client.wait_for(lambda t, p: t == topics.ha("cam", "state"))
        dashboard_client.publish(topics.camera("cam", "status"), b"dashboard-forged-status")  # still read-only
        dashboard_client.publish(topics.ha("cam", "violation"), b"sentinel-16")
        assert dashboard_client.wait_for(lambda t, p: p == b"sentinel-16")
        assert b"dashboard-forged-status" not in [p for _, p in dashboard_client.messages]
    finally:
        agent.close()


# ---------------------------------------------------------------- the installed agent
def test_installed_agent_comes_online_and_stops_cleanly(installed: Installed, dashboard_client: Client) -> None:
    if not (REPO / "edge_agent" / "commands" / "agent.py").exists():
        pytest.skip("maskwatch agent is not in this checkout yet")
    config = installed.etc / "config.yaml"
    if os.environ.get("MASKWATCH_DEMO_TEST_MODEL_CARD"):  # a trained model before the packaged one exists
        config = installed.etc / "config-test-model.yaml"
        config.write_text((installed.etc / "config.yaml").read_text()
                          + f"classifier:\n  model_card: {os.environ['MASKWATCH_DEMO_TEST_MODEL_CARD']}\n")
    elif not (REPO / "edge_agent" / "models" / "model_card.json").exists():
        pytest.skip("no packaged classifier (edge_agent/models/model_card.json) in this checkout yet")
    env = {**os.environ, **installed.agent_env}  # the agent's own file only, as its unit gets
    avail = Topics("maskwatch", SITE).available(AGENT)
    log = installed.root / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(installed.maskwatch), "agent", "--config", str(config)],
                                env=env, cwd=installed.root / "var/lib/maskwatch", stdout=out, stderr=subprocess.STDOUT)
        try:
            online = False
            deadline = time.monotonic() + 90
            while not online and proc.poll() is None and time.monotonic() < deadline:
                online = dashboard_client.wait_for(lambda t, p: t == avail and p == b"online", timeout=1)
            assert online, f"no 'online' on {avail}; agent log:\n{log.read_text()[-3000:]}"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
            assert dashboard_client.wait_for(lambda t, p: t == avail and p == b"stopped", timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


# ---------------------------------------------------------------- TLS, uninstall
def test_tls_generate_serves_verified_tls(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    root = tmp_path / "root"
    plain, tls = free_port(), free_port()
    run_installer(root, "--site", SITE, "--skip-venv", "--mqtt-port", str(plain), "--tls", "generate",
                  "--tls-port", str(tls))
    env = merged_env(root / "etc/maskwatch")
    assert env["MASKWATCH_MQTT_TLS"] == "true" and env["MASKWATCH_MQTT_PORT"] == str(tls)
    ca = Path(env["MASKWATCH_MQTT_CA_FILE"])
    assert ca == root / "etc/maskwatch/tls/ca.crt" and ca.exists()
    assert (root / "etc/mosquitto/certs/maskwatch/server.key").stat().st_mode & 0o777 == 0o600
    cfg = parse_config(read_config_file(root / "etc/maskwatch/config.yaml"), env=env)
    assert cfg.mqtt.tls.enabled and cfg.mqtt.tls.ca_file == ca and cfg.mqtt.host == "localhost"
    proc = subprocess.Popen(["mosquitto", "-c", str(root / "etc/mosquitto/mosquitto.conf")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(tls, proc)
        c = Client(tls, env["MASKWATCH_MQTT_USER"], env["MASKWATCH_MQTT_PASSWORD"], tls_ca=ca, host="localhost")
        assert c.ok, c.reason
        c.close()
        anon = Client(tls, None, None, tls_ca=ca, host="localhost")
        assert not anon.ok
        anon.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # An upgrade run without options keeps site, ports, TLS and the certificates (clients keep their CA).
    conf = (root / "etc/mosquitto/conf.d/maskwatch.conf").read_text()
    before = ca.read_bytes()
    run_installer(root, "--skip-venv")
    assert ca.read_bytes() == before
    assert (root / "etc/mosquitto/conf.d/maskwatch.conf").read_text() == conf
    assert merged_env(root / "etc/maskwatch") == env
    ca_key = root / "etc/maskwatch/ca/ca.key"  # the CA key is root's alone, not in the broker's folder
    assert ca_key.exists() and ca_key.stat().st_mode & 0o777 == 0o600
    assert ca_key.parent.stat().st_mode & 0o777 == 0o700
    assert not list((root / "etc/mosquitto").rglob("ca.key"))
    acl = (root / "etc/mosquitto/maskwatch.acl").read_text()
    assert f"topic readwrite maskwatch/{SITE}/agent/agent-1/#" in acl and f"topic write maskwatch/{SITE}/camera/#" in acl


def test_upgrade_warns_when_the_site_changes_under_a_kept_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run_installer(root, "--site", SITE, "--skip-venv")
    out = run_installer(root, "--site", "another", "--skip-venv")
    assert f"keeps site '{SITE}'" in out.stderr and "set site: another" in out.stderr


def test_uninstall_keeps_config_and_purge_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run_installer(root, "--site", SITE, "--skip-venv")
    out = run_installer(root, "--uninstall")
    for rel in ["etc/systemd/system/maskwatch-agent.service", "etc/mosquitto/conf.d/maskwatch.conf",
                "etc/mosquitto/maskwatch.passwd", "etc/mosquitto/maskwatch.acl", "opt/maskwatch"]:
        assert not (root / rel).exists(), rel
    assert (root / "etc/maskwatch/config.yaml").exists() and (root / "etc/maskwatch/maskwatch.env").exists()
    assert re.search(r"kept .*etc/maskwatch", out.stdout)
    run_installer(root, "--uninstall", "--purge")
    assert not (root / "etc/maskwatch").exists() and not (root / "var/lib/maskwatch").exists()


def test_offline_install_from_a_wheelhouse(tmp_path: Path) -> None:
    """--wheelhouse: pip runs with --no-index and installs the project's own wheel from the folder."""
    wheels = tmp_path / "wheelhouse"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(wheels), str(REPO)], capture_output=True, text=True, timeout=300,
                           check=False)
    assert build.returncode == 0, build.stderr
    assert list(wheels.glob("maskwatch-*.whl"))
    root = tmp_path / "root"
    run_installer(root, "--site", SITE, "--no-dashboard", "--wheelhouse", str(wheels),
                  "--python", sys.executable, "--deps-from", sys.prefix)
    py = root / "opt/maskwatch/venv/bin/python"
    out = subprocess.run([str(py), "-m", "pip", "show", "-f", "maskwatch"], capture_output=True, text=True,
                         timeout=60, check=False, cwd=root)
    assert out.returncode == 0 and str(root / "opt/maskwatch/venv") in out.stdout, out.stdout
    assert not (root / "etc/systemd/system/maskwatch-dashboard.service").exists()   # --no-dashboard
    assert (root / "etc/systemd/system/maskwatch-agent.service").exists()


def test_an_agents_cameras_are_kept_by_reruns_and_a_bad_name_is_refused(tmp_path: Path) -> None:
    """--cameras on the install (its own agent) and on add-agent: the ACL names exactly those cameras, and a
    later run without --cameras does not widen it back to the whole site."""
    root = tmp_path / "root"
    run_installer(root, "--site", SITE, "--agent-id", AGENT, "--cameras", "door,lobby", "--skip-venv", "--no-start")
    run_installer(root, "add-agent", "--site", SITE, "--agent-id", "side", "--cameras", "gate")
    run_installer(root, "--skip-venv", "--no-start")  # the upgrade run, no --cameras
    run_installer(root, "add-agent", "--site", SITE, "--agent-id", "side")  # a re-run, no --cameras
    acl = (root / "etc/mosquitto/maskwatch.acl").read_text()
    own = acl[acl.index(f"agent/{AGENT}/#"):acl.index("agent/side/#")]
    side = acl[acl.index("agent/side/#"):]
    for cam in ("door", "lobby"):
        assert f"topic write maskwatch/{SITE}/camera/{cam}/#" in own and f"camera/{cam}/+/set" in own
    assert f"topic write maskwatch/{SITE}/camera/gate/#" in side and "camera/door" not in side
    assert f"maskwatch/{SITE}/camera/#" not in acl, "a re-run widened an agent to every camera"
    bad = subprocess.run([str(INSTALL), "--root", str(root), "add-agent", "--site", SITE, "--agent-id", "x",
                          "--cameras", "ok,no/slash"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode != 0 and "not a valid camera name" in bad.stderr + bad.stdout


def test_add_agent_survives_installer_reruns(tmp_path: Path) -> None:
    """A second agent's broker user and ACL (install.sh add-agent) are kept by an upgrade run."""
    root = tmp_path / "root"
    run_installer(root, "--site", SITE, "--agent-id", AGENT, "--skip-venv", "--no-start")
    run_installer(root, "add-agent", "--site", SITE, "--agent-id", "door-2")
    creds = read_env(root / "etc/maskwatch/agents" / f"agent-{SITE}-door-2.env")
    assert (root / "etc/maskwatch/agents" / f"agent-{SITE}-door-2.env").stat().st_mode & 0o777 == 0o600
    run_installer(root, "--skip-venv", "--no-start")  # the upgrade run
    acl = (root / "etc/mosquitto/maskwatch.acl").read_text()
    assert f"user {creds['MASKWATCH_MQTT_USER']}" in acl and f"maskwatch/{SITE}/agent/door-2/#" in acl
    assert f"maskwatch/{SITE}/agent/{AGENT}/#" in acl
    assert creds["MASKWATCH_MQTT_USER"] + ":" in (root / "etc/mosquitto/maskwatch.passwd").read_text()
