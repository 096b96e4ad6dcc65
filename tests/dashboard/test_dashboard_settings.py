"""The dashboard's settings live in ``dashboard.settings``: one config file, the agent's ``Config`` passes the
dashboard side's sections through (the agent imports no dashboard code), ``Settings`` types them, and
``maskwatch config check`` (with or without ``--agent``) validates every section with errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboard.settings import DEFAULTS, DashboardConfig, Settings, flask_settings, parse_settings
from edge_agent.config import DASHBOARD_ONLY_SECTIONS, Config, ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, config: dict[str, object], *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "edge_agent", "config", "check", "--no-models", "--config",
                           str(path), *extra], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(("section", "key"), [
    ({"dashboard": {"prot": 8080}}, "dashboard.prot"),
    ({"dashboard": {"port": 0}}, "dashboard.port"),
    ({"dashboard": {"security": {"trusted_proxies": ["nope"]}}}, "dashboard.security.trusted_proxies"),
    ({"notifications": {"rules": [{"name": "r", "channels": ["ops"]}]}}, "notifications"),
    ({"homeassistant": {"violation_on_s": 0}}, "homeassistant.violation_on_s"),
])
def test_config_check_validates_the_dashboard_sections_naming_the_key(tmp_path, section, key):
    for extra in ((), ("--agent",)):  # --agent: as the agent's secrets allow (the installer's check)
        r = _cli(tmp_path, section, *extra)
        assert r.returncode == 2 and key in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    path = tmp_path / "config.yaml"
    assert parse_config(yaml.safe_load(path.read_text())).site == "site"  # the agent itself passes them through


def test_the_agent_validates_the_one_dashboard_key_it_reads():
    with pytest.raises(ConfigError, match="dashboard.timezone"):
        parse_config({"dashboard": {"timezone": "Mars/Olympus"}})
    assert parse_config({"dashboard": {"timezone": "Asia/Jakarta", "port": 1}}).dashboard.timezone == "Asia/Jakarta"
    with pytest.raises(ConfigError, match="dashboard.timezone"):
        parse_settings({"dashboard": {"timezone": "Mars/Olympus"}})


def test_settings_type_exactly_the_dashboard_only_sections():
    """``Settings`` is the agent's schema plus types for the dashboard side's sections, no other difference."""
    assert set(Settings.model_fields) == set(Config.model_fields)
    retyped = {k for k in Config.model_fields if Settings.model_fields[k].annotation != Config.model_fields[k].annotation}
    assert retyped == set(DASHBOARD_ONLY_SECTIONS)


PROBE = """
import sys
from pathlib import Path
from edge_agent import runtime
from edge_agent.commands import agent
from edge_agent.config import agent_sections, load_config
cfg = load_config(Path(sys.argv[1]), own_sections=agent_sections)
print(cfg.dashboard.timezone, sorted(m for m in sys.modules if m.split(".")[0] in ("dashboard", "flask")))
import dashboard.settings
print(sorted(m for m in sys.modules if m.split(".")[0] == "flask"))
"""


def test_the_agent_imports_no_dashboard_code_and_the_settings_need_no_flask(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dashboard": {"timezone": "Europe/Berlin", "secret_key": "${UNSET_HERE}"}}))
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True,
                         timeout=120, cwd=ROOT).stdout.splitlines()
    assert out == ["Europe/Berlin []", "[]"]  # config check can load the dashboard's models on an agent-only box


def test_flask_defaults_come_from_the_model():
    assert DEFAULTS["DATABASE_URL"] == DashboardConfig.model_fields["database_url"].default
    assert DEFAULTS["LOGIN_WINDOW_S"] == 15 * 60 and DEFAULTS["PERMANENT_SESSION_LIFETIME"] == 12 * 3600
    cfg = parse_settings({"dashboard": {"timezone": "Asia/Jakarta", "security": {"login_max_failures": 3}},
                          "mqtt": {"topic_prefix": "mw"}})
    got = flask_settings(cfg)
    assert got["TIMEZONE"] == "Asia/Jakarta" and got["LOGIN_MAX_FAILURES"] == 3 and got["TOPIC_PREFIX"] == "mw"
    assert set(got) <= set(DEFAULTS)
