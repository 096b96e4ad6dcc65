"""Fast checks of deploy/: shell scripts pass shellcheck, unit templates pass systemd-analyze, templates render.

The units that the installer actually writes are verified again in test_deploy_install.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SCRIPTS = [DEPLOY / "install.sh", DEPLOY / "demo.sh"]
UNIT_TEMPLATES = sorted((DEPLOY / "systemd").glob("*.service.in"))


def analyze_verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify``; it prints unknown keys as warnings with exit 0, so callers check stderr."""
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)"
)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_are_shellcheck_clean(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    assert script.exists(), script
    out = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_are_executable_and_parse(script: Path) -> None:
    assert script.stat().st_mode & 0o111, f"{script} is not executable"
    out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr


def test_every_service_has_a_template() -> None:
    names = {p.name.removesuffix(".in") for p in UNIT_TEMPLATES}
    assert names == {"maskwatch-agent.service", "maskwatch-dashboard.service", "maskwatch-ingest.service"}


def render_unit(template: Path, out_dir: Path, exec_path: Path) -> Path:
    """Fill a unit template with existing paths (ExecStart must exist for systemd-analyze)."""
    text = template.read_text()
    text = text.replace("@VENV@/bin/maskwatch", str(exec_path))
    for key, value in {"PREFIX": "/opt/maskwatch", "ETC": "/etc/maskwatch", "STATE": "/var/lib/maskwatch",
                       "WEB_STATE": "/var/lib/maskwatch-dashboard", "WEB_USER": "maskwatch-web",
                       "USER": "maskwatch"}.items():
        text = text.replace(f"@{key}@", value)
    assert not re.search(r"@[A-Z_]+@", text), f"unfilled placeholder in {template.name}"
    out = out_dir / template.name.removesuffix(".in")
    out.write_text(text)
    return out


@needs_analyze
@pytest.mark.parametrize("template", UNIT_TEMPLATES, ids=lambda p: p.name)
def test_unit_templates_pass_systemd_analyze(template: Path, tmp_path: Path) -> None:
    exe = tmp_path / "maskwatch"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    unit = render_unit(template, tmp_path, exe)
    out = analyze_verify(unit)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


MAX_EXPOSURE = 2.0
EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def analyze_security(unit: Path) -> float | None:
    """``systemd-analyze security --offline=yes`` of a unit file: its exposure (0 = tight, 10 = open), or None
    when this systemd-analyze cannot rate a file offline (older than systemd 250)."""
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                         capture_output=True, text=True, timeout=60, check=False)
    m = EXPOSURE.search(out.stdout)
    return float(m.group(1)) if m else None


@needs_analyze
@pytest.mark.parametrize("template", UNIT_TEMPLATES, ids=lambda p: p.name)
def test_units_are_rated_at_most_exposure_2(template: Path, tmp_path: Path) -> None:
    exe = tmp_path / "maskwatch"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    score = analyze_security(render_unit(template, tmp_path, exe))
    if score is None:
        pytest.skip("systemd-analyze cannot rate a unit file offline here (needs systemd >= 250)")
    print(f"{template.name}: exposure {score}")
    assert score <= MAX_EXPOSURE, f"{template.name}: systemd-analyze security exposure {score} > {MAX_EXPOSURE}"


@needs_analyze
def test_systemd_analyze_check_catches_a_bad_key(tmp_path: Path) -> None:
    """The lint is only worth something if a typo fails it: an unknown key prints to stderr (exit 0)."""
    exe = tmp_path / "maskwatch"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    unit = render_unit(DEPLOY / "systemd" / "maskwatch-agent.service.in", tmp_path, exe)
    unit.write_text(unit.read_text().replace("WatchdogSec=", "WatchDogSec="))
    out = analyze_verify(unit)
    assert "WatchDogSec" in out.stderr


def test_agent_unit_has_the_required_settings() -> None:
    text = (DEPLOY / "systemd" / "maskwatch-agent.service.in").read_text()
    for line in ["Type=notify", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=@STATE@", "SupplementaryGroups=video",
                 "DeviceAllow=char-video4linux rw", "ExecReload=/bin/kill -HUP $MAINPID",
                 "EnvironmentFile=@ETC@/maskwatch.env"]:
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert re.search(r"^WatchdogSec=\d+$", text, re.M)


@pytest.mark.parametrize("unit", ["maskwatch-dashboard.service.in", "maskwatch-ingest.service.in"])
def test_dashboard_units_use_waitress_commands(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    kind = "serve" if "dashboard.service" in unit else "ingest"
    assert f"ExecStart=@VENV@/bin/maskwatch dashboard {kind} --config @ETC@/config.yaml" in text


def test_installer_help_lists_the_options() -> None:
    out = subprocess.run([str(DEPLOY / "install.sh"), "--help"], capture_output=True, text=True, timeout=30,
                         check=False)
    assert out.returncode == 0
    for opt in ["--uninstall", "--dry-run", "--root", "--tls", "--wheelhouse", "--site", "--purge"]:
        assert opt in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--site", "bad site"], "not a valid site/agent name"),
    (["--bogus"], "unknown option"),
    (["--purge"], "--purge goes with --uninstall"),
    (["--tls", "selfsigned"], "--tls takes 'generate'"),
    (["--site"], "--site needs a value"),
])
def test_installer_rejects_bad_arguments(args: list[str], message: str, tmp_path: Path) -> None:
    out = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(tmp_path / "root"), *args],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0
    assert message in out.stderr
    assert not (tmp_path / "root").exists()


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(root), "--dry-run", "--site", "lobby",
                          "--tls", "generate"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert not root.exists(), "--dry-run created files"
    for path in ["etc/maskwatch/maskwatch.env", "etc/mosquitto/conf.d/maskwatch.conf",
                 "etc/systemd/system/maskwatch-agent.service", "etc/maskwatch/config.yaml"]:
        assert f"would write: {root / path}" in out.stdout, path
    assert "would run:" in out.stdout and "pip install" in out.stdout


def _fake_tool(dir_: Path, name: str, script: str) -> Path:
    path = dir_ / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def test_installer_refuses_32bit_arm_with_a_clear_message(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "uname", 'if [ "$1" = "-m" ]; then echo armv7l; else exec /bin/uname "$@"; fi')
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin:/usr/sbin:/sbin"}
    out = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(tmp_path / "root"), "--site", "x"],
                         capture_output=True, text=True, timeout=60, check=False, env=env)
    assert out.returncode != 0
    assert "32-bit ARM (armv7l) is not supported" in out.stderr and "64-bit" in out.stderr
    assert not (tmp_path / "root").exists()


def test_installer_refuses_old_python_with_a_clear_message(tmp_path: Path) -> None:
    old = _fake_tool(tmp_path, "python3.9", 'case "$1" in --version) echo "Python 3.9.2";; *) exit 1;; esac')
    out = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(tmp_path / "root"), "--site", "x",
                          "--python", str(old)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0
    assert "needs Python >= 3.11" in out.stderr and "Python 3.9.2" in out.stderr and "bookworm" in out.stderr


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service.in")), ids=lambda p: p.name)
def test_every_unit_bounds_memory_and_tasks(unit: Path) -> None:
    keys = {line.split("=", 1)[0] for line in unit.read_text().splitlines() if "=" in line and line[0] != "#"}
    assert {"MemoryMax", "TasksMax"} <= keys, f"{unit.name} sets no MemoryMax/TasksMax"


def test_shipped_broker_config_keeps_what_it_acknowledged() -> None:
    """Custody settings of deploy/mosquitto/maskwatch.conf.in (docs/mqtt.md): not Debian's defaults."""
    conf = dict(line.split(None, 1) for line in (DEPLOY / "mosquitto" / "maskwatch.conf.in").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    assert int(conf["max_queued_messages"]) >= 100_000 and int(conf["max_queued_bytes"]) > 0
    assert conf["autosave_on_changes"] == "true" and conf["autosave_interval"] == "1"
    assert int(conf["max_packet_size"]) >= 4 * 2**20
