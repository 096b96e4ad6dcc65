"""``install.sh --dashboard-tls generate``: the nginx site and certificate the installer wrote, run for real.

Real nginx (Debian's nginx-light) with the rendered site, in front of the real ``maskwatch dashboard serve``
with the installed config and ``dashboard.env``. Clients come from different loopback addresses
(127.0.0.2, 127.0.0.3), so the test shows what a user behind the proxy gets: HTTPS verified against the
generated certificate, ``Secure`` cookies, and a login throttle that sees each client's own address.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from dashboard_support import REPO, csrf_from
from helpers.net import free_port, port_open, wait_for
from requests.adapters import HTTPAdapter

INSTALL = REPO / "deploy" / "install.sh"
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed (apt-get install nginx-light)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
]


class FromAddress(HTTPAdapter):
    """Connect from a given loopback address (Linux routes all of 127/8 to lo)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    root = tmp / "root"
    https, http = free_port(), free_port()
    out = subprocess.run([str(INSTALL), "--root", str(root), "--site", "hq", "--skip-venv", "--no-broker",
                          "--mqtt-host", "127.0.0.1", "--dashboard-port", str(http), "--dashboard-tls", "generate",
                          "--dashboard-tls-port", str(https)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    etc = root / "etc/maskwatch"
    env = {**os.environ, **read_env(etc / "maskwatch.env"),
           **{k: v for k, v in read_env(etc / "dashboard.env").items() if v}}
    cfg = str(etc / "config.yaml")

    def cli(*args: str, input: str | None = None) -> None:
        r = subprocess.run([sys.executable, "-m", "edge_agent", "dashboard", *args, "--config", cfg], env=env,
                           cwd=REPO, capture_output=True, text=True, input=input, timeout=120)
        assert r.returncode == 0, r.stderr

    cli("db-upgrade")
    cli("create-user", "admin", "--password-stdin", input=PASSWORD + "\n")
    web = subprocess.Popen([sys.executable, "-m", "edge_agent", "dashboard", "serve", "--config", cfg], env=env,
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = tmp / "nginx"
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / d).mkdir(parents=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (run / "nginx.conf").write_text(
        f"{user}pid {run}/nginx.pid;\nerror_log {run}/error.log;\ndaemon off;\nworker_processes 1;\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; client_body_temp_path {run}/body; proxy_temp_path {run}/proxy; "
        f"fastcgi_temp_path {run}/fastcgi; uwsgi_temp_path {run}/uwsgi; scgi_temp_path {run}/scgi;\n"
        f"  include {root}/etc/nginx/sites-enabled/*; }}\n")
    proxy = subprocess.Popen(["nginx", "-p", str(run), "-c", str(run / "nginx.conf")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: port_open(http) or web.poll() is not None, 60, what="the dashboard")
        wait_for(lambda: port_open(https) or proxy.poll() is not None, 30, what="nginx")
        assert web.poll() is None and proxy.poll() is None, proxy.stderr.read() if proxy.poll() is not None else ""
        yield {"url": f"https://localhost:{https}", "ca": str(etc / "tls/dashboard.crt"), "root": root}
    finally:
        for p in (proxy, web):
            p.send_signal(signal.SIGTERM)
        for p in (proxy, web):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def client(address: str) -> requests.Session:
    s = requests.Session()
    s.mount("https://", FromAddress(address))
    return s


def login(tls_stack, address: str, password: str = PASSWORD) -> requests.Response:  # noqa: ANN001
    s = client(address)
    page = s.get(tls_stack["url"] + "/login", verify=tls_stack["ca"], timeout=30)
    # a browser sends the Referer (Referrer-Policy same-origin); Flask-WTF checks it on HTTPS
    return s.post(tls_stack["url"] + "/login", data={"username": "admin", "password": password,
                                                  "csrf_token": csrf_from(page.text)},
                  headers={"Referer": tls_stack["url"] + "/login"}, verify=tls_stack["ca"], allow_redirects=False,
                  timeout=30)


def test_the_files_the_installer_wrote(tls_stack) -> None:
    root = tls_stack["root"]
    key = root / "etc/maskwatch/tls/dashboard.key"
    assert key.stat().st_mode & 0o777 == 0o600
    site = (root / "etc/nginx/sites-enabled/maskwatch-dashboard").read_text()
    assert "X-Forwarded-For $remote_addr" in site and "ssl_protocols TLSv1.2 TLSv1.3" in site
    assert read_env(root / "etc/maskwatch/dashboard.env")["MASKWATCH_TRUSTED_PROXIES"] == "127.0.0.1"


def test_https_login_sets_a_secure_cookie(tls_stack) -> None:
    r = login(tls_stack, "127.0.0.2")
    assert r.status_code == 302
    cookie = next(c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_the_proxy_a_stranger_cannot_lock_the_user_out(tls_stack) -> None:
    codes = [login(tls_stack, "127.0.0.3", "wrong password!").status_code for _ in range(21)]
    assert codes[0] == 401 and codes[-1] == 429
    assert login(tls_stack, "127.0.0.3").status_code == 429  # the stranger's own address is banned
    assert login(tls_stack, "127.0.0.4").status_code == 302  # everyone else still gets in
