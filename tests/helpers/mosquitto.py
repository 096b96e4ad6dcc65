"""A real mosquitto broker on a free loopback port, started from the config ``deploy/install.sh`` renders.

``Mosquitto(workdir)`` runs ``deploy/install.sh --root workdir/root --skip-venv --no-start`` (the same
templates, the same rendering code as a real install) and starts ``mosquitto -c
<root>/etc/mosquitto/mosquitto.conf``: the shipped ``conf.d/maskwatch.conf`` (no anonymous clients, password
file, per-agent ACLs, queue limits, autosave on every change, message size limit) under a main config like
Debian's (``persistence true``). What differs from a Pi, and why:

- the plain listener is a free loopback port (``--mqtt-port``), so that tests run side by side (likewise the
  TLS listener's ``--tls-port`` when ``tls`` is given);
- mosquitto runs as the current user (``user`` in the tree's main config): tests do not own a mosquitto user;
- ``anonymous=True`` (the default, for tests whose subject is not broker security and whose clients carry no
  credentials) adds ``conf.d/zz-test.conf`` with ``allow_anonymous true`` and one ACL line at the top of the
  rendered ACL, ``pattern readwrite #``, that opens every topic to every client (a ``topic`` line for
  anonymous clients only is not enough: mosquitto 2.0.11 then delivers nothing to an anonymous persistent
  session restored after a broker restart). Everything else stays as shipped. Tests of delivery custody and
  isolation use ``anonymous=False`` and the users in :attr:`users`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from edge_agent.config import MQTTConfig

from .net import free_port, port_open, wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
INSTALL = Path(__file__).resolve().parents[2] / "deploy" / "install.sh"


def broker_at(port: int, **settings: object) -> MQTTConfig:
    """The connection model (``edge_agent.config.MQTTConfig``) of a client of a broker on this host's ``port``;
    ``settings`` are further fields (``protocol="3.1.1"``, ``reconnect_min_s`` ...)."""
    return MQTTConfig.model_validate({"host": "127.0.0.1", "port": port, **settings})


def available() -> bool:
    return Path(MOSQUITTO).is_file() and shutil.which("mosquitto_passwd") is not None


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def render_deployment(root: Path, port: int, site: str, agent: str, *args: str) -> None:
    """``deploy/install.sh --root ROOT`` without virtualenv, packages or services: the rendered files only."""
    out = subprocess.run([str(INSTALL), "--root", str(root), "--site", site, "--agent-id", agent, "--skip-venv",
                          "--no-start", "--mqtt-port", str(port), *args],
                         capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"install.sh failed:\n{out.stdout}\n{out.stderr}")


class Mosquitto:
    """``start()`` / ``stop()`` (or ``kill()``) / ``start()`` again keeps the port and the persisted store."""

    def __init__(self, workdir: Path, port: int | None = None, persistence: bool = True,
                 extra: list[str] | None = None, anonymous: bool = True, site: str = "s1",
                 agent: str = "a1", tls: dict[str, Path] | None = None) -> None:
        # persistence: kept for old callers; the shipped config always persists (Debian's main config).
        del persistence
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.root = self.workdir / "root"
        self.site, self.agent = site, agent
        #: with ``tls`` (files from make_tls_files): the installer's TLS listener (--tls-cert/--tls-key/--tls-ca)
        self.tls_port = free_port() if tls else None
        tls_args = ["--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"]), "--tls-ca", str(tls["ca"]),
                    "--tls-port", str(self.tls_port)] if tls else []
        render_deployment(self.root, self.port, site, agent, *tls_args)
        self.etc = self.root / "etc" / "mosquitto"
        self.conf = self.etc / "mosquitto.conf"
        self.acl = self.etc / "maskwatch.acl"
        self.passwd = self.etc / "maskwatch.passwd"
        self.store = self.root / "var" / "lib" / "mosquitto" / "mosquitto.db"
        self.log = self.workdir / "mosquitto.log"
        etc = self.root / "etc" / "maskwatch"
        env = read_env(etc / "maskwatch.env")  # the agent's
        dash_env = etc / "dashboard.env"  # the dashboard's own secrets file (older installs: maskwatch.env)
        if dash_env.exists():
            env.update({k: v for k, v in read_env(dash_env).items() if k.startswith("MASKWATCH_DASHBOARD_") and v})
        #: name -> (user, password): "agent" (the installed agent), "dashboard", and any add_agent() ones
        self.users: dict[str, tuple[str, str]] = {
            "agent": (env["MASKWATCH_MQTT_USER"], env["MASKWATCH_MQTT_PASSWORD"]),
            "dashboard": (env["MASKWATCH_DASHBOARD_MQTT_USER"], env["MASKWATCH_DASHBOARD_MQTT_PASSWORD"]),
        }
        self.anonymous = anonymous
        test_lines = ["# Test-only settings (tests/helpers/mosquitto.py says why)."]
        if anonymous:
            test_lines += ["# This test's clients carry no credentials; its subject is not broker security.",
                           "allow_anonymous true"]
            self._allow_anonymous_in_acl()
        test_lines += [*(extra or [])]
        (self.etc / "conf.d" / "zz-test.conf").write_text("\n".join(test_lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def _allow_anonymous_in_acl(self) -> None:
        text = self.acl.read_text()
        if not text.startswith("# test-only"):
            self.acl.write_text("# test-only (tests/helpers/mosquitto.py): every client may use every topic\n"
                                "pattern readwrite #\n" + text)

    def add_agent(self, site: str, agent: str, cameras: list[str] | None = None) -> tuple[str, str]:
        """``deploy/install.sh add-agent`` (user, password, ACL fragment; ``cameras``: ``--cameras``, the only
        cameras it may publish); the running broker reloads."""
        extra = ["--cameras", ",".join(cameras)] if cameras else []
        out = subprocess.run([str(INSTALL), "add-agent", "--root", str(self.root), "--site", site,
                              "--agent-id", agent, *extra], capture_output=True, text=True, timeout=60, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"install.sh add-agent failed:\n{out.stdout}\n{out.stderr}")
        env = read_env(self.root / "etc" / "maskwatch" / "agents" / f"agent-{site}-{agent}.env")
        creds = (env["MASKWATCH_MQTT_USER"], env["MASKWATCH_MQTT_PASSWORD"])
        self.users[f"{site}/{agent}"] = creds
        if self.anonymous:
            self._allow_anonymous_in_acl()
        self.reload()
        return creds

    def set_password(self, user: str, password: str) -> None:
        """What an operator does with ``mosquitto_passwd -b`` (the user needs an ACL to publish anything)."""
        subprocess.run(["mosquitto_passwd", "-b", str(self.passwd), user, password], check=True,
                       capture_output=True, timeout=30)
        self.reload()

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads its password file and ACL (what ``systemctl reload mosquitto`` does)."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGHUP)

    def start(self, timeout: float = 10.0) -> Mosquitto:
        wait_for(lambda: not port_open(self.port), 10, what=f"port {self.port} to be free")
        self._logf = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self._logf, stderr=self._logf,
                                     env={**os.environ})
        try:
            wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, timeout,
                     what=f"mosquitto on port {self.port}")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        return self

    def kill(self) -> None:
        """SIGKILL: no save at exit, like a crash or a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        self._close_log()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None
        self._close_log()

    def _close_log(self) -> None:
        if getattr(self, "_logf", None) is not None:
            self._logf.close()
            self._logf = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt, ext = folder / "server.key", folder / "server.csr", folder / "server.crt", folder / "ext.cnf"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=60)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-days", "2", "-subj", "/CN=maskwatch-test-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return {"ca": ca_crt, "cert": crt, "key": key}


def make_password_file(path: Path, user: str, password: str) -> Path:
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), user, password], check=True, capture_output=True,
                   timeout=30)
    return path
